#pragma once
// A node's Ed25519 identity (DESIGN §4.1) and its key file.
//
// The secret never leaves a SecretKey: it is not copyable, lives in memory
// locked and wiped by libsodium, and any libsodium failure fails closed
// (STYLE 14). The key file holds the 32-byte seed as hex after comment lines,
// with mode 0600; a file readable by group or others is refused, as ssh does.
//
// Thread contract: a SecretKey is immutable after creation; sign() may be
// called from any thread.

#include <array>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "crdt/origin.hpp"
#include "crdt/result.hpp"

namespace placemesh {

// Initialises libsodium once; false if it cannot (no entropy source).
[[nodiscard]] bool sodium_ready();

class SecretKey {
 public:
  static constexpr std::size_t seed_bytes = 32;  // crypto_sign_SEEDBYTES

  [[nodiscard]] static Result<std::unique_ptr<SecretKey>> generate();
  [[nodiscard]] static Result<std::unique_ptr<SecretKey>> from_seed(std::span<const std::uint8_t> seed);
  ~SecretKey();
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;

  [[nodiscard]] const PublicKey& public_key() const { return public_key_; }
  [[nodiscard]] Signature sign(std::span<const std::uint8_t> message) const;
  // The seed as hex: only for writing the key file.
  [[nodiscard]] std::string seed_hex() const;

 private:
  SecretKey() = default;
  std::uint8_t* secret_ = nullptr;  // crypto_sign_SECRETKEYBYTES, sodium_malloc'd
  PublicKey public_key_{};
};

[[nodiscard]] bool verify(const PublicKey& key, std::span<const std::uint8_t> message, const Signature& signature);

// Reads a key file; bad_key_file names the file and what to do.
[[nodiscard]] Result<std::unique_ptr<SecretKey>> load_key_file(const std::filesystem::path& path);
// Writes a new key file with mode 0600; refuses to overwrite one.
[[nodiscard]] Status write_key_file(const std::filesystem::path& path, const SecretKey& key, std::string_view what);

}  // namespace placemesh
