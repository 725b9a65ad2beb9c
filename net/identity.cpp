#include "net/identity.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace placemesh {

static_assert(SecretKey::seed_bytes == crypto_sign_SEEDBYTES);
static_assert(public_key_bytes == crypto_sign_PUBLICKEYBYTES);
static_assert(signature_bytes == crypto_sign_BYTES);

bool sodium_ready() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

Result<std::unique_ptr<SecretKey>> SecretKey::from_seed(std::span<const std::uint8_t> seed) {
  if (!sodium_ready()) return make_error(Code::bad_key_file, "libsodium could not initialise");
  if (seed.size() != seed_bytes)
    return make_error(Code::bad_key_file, "a seed has " + std::to_string(seed_bytes) + " bytes, not " +
                                              std::to_string(seed.size()));
  std::unique_ptr<SecretKey> key(new SecretKey());
  key->secret_ = static_cast<std::uint8_t*>(sodium_malloc(crypto_sign_SECRETKEYBYTES));
  if (key->secret_ == nullptr) return make_error(Code::bad_key_file, "cannot allocate secure memory");
  if (crypto_sign_seed_keypair(key->public_key_.data(), key->secret_, seed.data()) != 0)
    return make_error(Code::bad_key_file, "crypto_sign_seed_keypair failed");
  return key;
}

Result<std::unique_ptr<SecretKey>> SecretKey::generate() {
  if (!sodium_ready()) return make_error(Code::bad_key_file, "libsodium could not initialise");
  std::array<std::uint8_t, seed_bytes> seed{};
  randombytes_buf(seed.data(), seed.size());
  auto key = from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  return key;
}

SecretKey::~SecretKey() { sodium_free(secret_); }  // sodium_free wipes

Signature SecretKey::sign(std::span<const std::uint8_t> message) const {
  Signature signature{};
  const int rc = crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(), secret_);
  PM_ASSERT(rc == 0, "crypto_sign_detached failed");
  return signature;
}

std::string SecretKey::seed_hex() const {
  // The seed is the first half of libsodium's secret key.
  std::string hex(seed_bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), secret_, seed_bytes);
  hex.pop_back();
  return hex;
}

bool verify(const PublicKey& key, std::span<const std::uint8_t> message, const Signature& signature) {
  if (!sodium_ready()) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), key.data()) == 0;
}

Result<std::unique_ptr<SecretKey>> load_key_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  struct stat info {};
  if (::stat(name.c_str(), &info) != 0)
    return make_error(Code::bad_key_file, name + ": " + std::strerror(errno) +
                                              "; create one with `placemeshctl keygen --out " + name + "`");
  if ((info.st_mode & 077) != 0)
    return make_error(Code::bad_key_file, name + " is readable by group or others; run `chmod 600 " + name + "`");
  std::ifstream in(path);
  if (!in) return make_error(Code::bad_key_file, name + ": cannot read");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::array<std::uint8_t, SecretKey::seed_bytes> seed{};
    std::size_t length = 0;
    const bool hex_ok = line.size() == seed.size() * 2 &&
                        sodium_hex2bin(seed.data(), seed.size(), line.data(), line.size(), nullptr, &length,
                                       nullptr) == 0 &&
                        length == seed.size();
    sodium_memzero(line.data(), line.size());
    if (!hex_ok)
      return make_error(Code::bad_key_file, name + ": expected 64 hex digits (an Ed25519 seed) after the comments");
    auto key = SecretKey::from_seed(seed);
    sodium_memzero(seed.data(), seed.size());
    return key;
  }
  return make_error(Code::bad_key_file, name + ": no key in the file");
}

Status write_key_file(const std::filesystem::path& path, const SecretKey& key, std::string_view what) {
  const std::string name = path.string();
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(Code::bad_key_file,
                      name + ": " + std::strerror(errno) + (errno == EEXIST ? " (refusing to overwrite a key)" : ""));
  std::ostringstream text;
  text << "# placemesh " << what << " (Ed25519 seed). Secret: keep mode 0600, never commit it.\n"
       << "# public key " << to_hex(key.public_key()) << "\n";
  std::string body = text.str() + key.seed_hex() + "\n";
  const auto written = ::write(fd, body.data(), body.size());
  sodium_memzero(body.data(), body.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (written != static_cast<ssize_t>(body.size()) || !synced)
    return make_error(Code::bad_key_file, name + ": write failed");
  return Ok{};
}

}  // namespace placemesh
