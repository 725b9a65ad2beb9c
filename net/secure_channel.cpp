#include "net/secure_channel.hpp"

#include <sodium.h>

#include <cstring>

#include "crdt/limits.hpp"

namespace placemesh::net {

namespace {

using StreamState = crypto_secretstream_xchacha20poly1305_state;
constexpr std::size_t key_bytes = crypto_secretstream_xchacha20poly1305_KEYBYTES;
constexpr std::size_t header_bytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr std::size_t tag_bytes = crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::size_t auth_bytes = public_key_bytes + signature_bytes;
constexpr std::size_t auth_frame_bytes = 4 + auth_bytes + tag_bytes;
constexpr std::string_view magic = "PMSH";
constexpr std::string_view transcript_context = "placemesh-transcript-v1";
constexpr std::string_view signature_context = "placemesh-handshake-v1";

static_assert(key_bytes == crypto_kx_SESSIONKEYBYTES);
static_assert(limits::frame_bytes_max + tag_bytes < (std::uint64_t{1} << 32));

void put_u32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

std::uint32_t get_u32(const std::uint8_t* in) {
  return std::uint32_t{in[0]} << 24 | std::uint32_t{in[1]} << 16 | std::uint32_t{in[2]} << 8 | in[3];
}

// nullopt when libsodium fails (the handshake then fails closed).
std::optional<std::array<std::uint8_t, 8>> network_tag(std::string_view network) {
  std::array<std::uint8_t, crypto_generichash_BYTES> hash{};
  if (crypto_generichash(hash.data(), hash.size(), reinterpret_cast<const unsigned char*>(network.data()),
                         network.size(), nullptr, 0) != 0)
    return std::nullopt;
  std::array<std::uint8_t, 8> tag{};
  std::memcpy(tag.data(), hash.data(), tag.size());
  return tag;
}

}  // namespace

std::string_view reject_name(Reject reason) {
  switch (reason) {
    case Reject::wrong_network: return "wrong_network";
    case Reject::unknown_key: return "unknown_key";
    case Reject::revoked_key: return "revoked_key";
    case Reject::wrong_peer: return "wrong_peer";
    case Reject::bad_signature: return "bad_signature";
    case Reject::garbled_frame: return "garbled_frame";
    case Reject::oversize_frame: return "oversize_frame";
    case Reject::crypto_failure: return "crypto_failure";
  }
  return "unknown";
}

// --- Channel -----------------------------------------------------------------

struct Channel::State {
  StreamState push{};
  StreamState pull{};
  ~State() {
    sodium_memzero(&push, sizeof push);
    sodium_memzero(&pull, sizeof pull);
  }
};

Channel::Channel() : state_(std::make_unique<State>()) {}
Channel::~Channel() = default;

Bytes Channel::seal(std::span<const std::uint8_t> message) {
  PM_REQUIRE(message.size() <= limits::frame_bytes_max, "message over the frame limit:", message.size());
  ++sealed_;
  const unsigned char tag = sealed_ % rekey_interval_frames == 0 ? crypto_secretstream_xchacha20poly1305_TAG_REKEY
                                                                 : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  Bytes frame;
  frame.reserve(4 + message.size() + tag_bytes);
  put_u32(frame, static_cast<std::uint32_t>(message.size() + tag_bytes));
  frame.resize(4 + message.size() + tag_bytes);
  const int rc = crypto_secretstream_xchacha20poly1305_push(&state_->push, frame.data() + 4, nullptr, message.data(),
                                                            message.size(), nullptr, 0, tag);
  PM_ASSERT(rc == 0, "secretstream push failed");
  return frame;
}

Channel::Opened Channel::open(std::span<const std::uint8_t> bytes) {
  Opened opened;
  if (failed_) {
    opened.failed = failed_;
    return opened;
  }
  inbox_.insert(inbox_.end(), bytes.begin(), bytes.end());
  std::size_t at = 0;
  while (inbox_.size() - at >= 4) {
    const std::uint32_t length = get_u32(inbox_.data() + at);
    // The length is checked before anything is allocated for the frame.
    if (length > limits::frame_bytes_max + tag_bytes) {
      failed_ = Reject::oversize_frame;
      break;
    }
    if (length < tag_bytes) {
      failed_ = Reject::garbled_frame;
      break;
    }
    if (inbox_.size() - at - 4 < length) break;  // wait for the rest
    Bytes message(length - tag_bytes);
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&state_->pull, message.data(), nullptr, &tag,
                                                   inbox_.data() + at + 4, length, nullptr, 0) != 0 ||
        tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      failed_ = Reject::garbled_frame;
      break;
    }
    opened.messages.push_back(std::move(message));
    at += 4 + length;
  }
  if (failed_) {
    inbox_.clear();
    opened.failed = failed_;
    return opened;
  }
  inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(at));
  return opened;
}

// --- Handshake ---------------------------------------------------------------

struct Handshake::Keys {
  std::array<std::uint8_t, crypto_kx_PUBLICKEYBYTES> ephemeral_public{};
  std::array<std::uint8_t, crypto_kx_SECRETKEYBYTES> ephemeral_secret{};
  std::array<std::uint8_t, key_bytes> rx{}, tx{};
  std::array<std::uint8_t, crypto_generichash_BYTES> transcript{};
  std::array<std::uint8_t, header_bytes> header{};  // our stream's header, sent with our proof
  ~Keys() {
    sodium_memzero(ephemeral_secret.data(), ephemeral_secret.size());
    sodium_memzero(rx.data(), rx.size());
    sodium_memzero(tx.data(), tx.size());
  }
};

Handshake::Handshake(Role role, Signer self, std::string_view network, Membership membership,
                     std::optional<PublicKey> expected_peer)
    : role_(role),
      self_(std::move(self)),
      network_(network),
      membership_(std::move(membership)),
      expected_peer_(expected_peer),
      keys_(std::make_unique<Keys>()) {
  PM_REQUIRE(sodium_ready(), "libsodium is not initialised");
  const auto tag = network_tag(network_);
  // A failure here still sends a well-formed hello (of zeros), so the caller
  // needs no special case; the first receive() reports crypto_failure.
  if (crypto_kx_keypair(keys_->ephemeral_public.data(), keys_->ephemeral_secret.data()) != 0 || !tag)
    failed_ = Reject::crypto_failure;
  hello_.assign(magic.begin(), magic.end());
  hello_.push_back(static_cast<std::uint8_t>(protocol_version >> 8));
  hello_.push_back(static_cast<std::uint8_t>(protocol_version & 0xFF));
  hello_.resize(hello_.size() + 8);
  if (tag) std::memcpy(hello_.data() + 6, tag->data(), tag->size());
  hello_.insert(hello_.end(), keys_->ephemeral_public.begin(), keys_->ephemeral_public.end());
  PM_ASSERT(hello_.size() == hello_bytes);
}

Handshake::~Handshake() = default;

namespace {

Bytes signed_transcript(std::span<const std::uint8_t> transcript, std::uint8_t role) {
  Bytes message(signature_context.begin(), signature_context.end());
  message.insert(message.end(), transcript.begin(), transcript.end());
  message.push_back(role);
  return message;
}

}  // namespace

Handshake::Progress Handshake::receive(std::span<const std::uint8_t> bytes) {
  Progress progress;
  if (failed_ || done_) {
    progress.failed = failed_;
    progress.done = done_;
    return progress;
  }
  inbox_.insert(inbox_.end(), bytes.begin(), bytes.end());
  auto fail = [&](Reject reason) {
    failed_ = reason;
    inbox_.clear();
    progress.to_send.clear();
    progress.failed = reason;
    return progress;
  };
  if (!keyed_) {
    if (inbox_.size() < hello_bytes) return progress;
    if (auto refused = answer_hello()) return fail(*refused);
    inbox_.erase(inbox_.begin(), inbox_.begin() + static_cast<std::ptrdiff_t>(hello_bytes));
    keyed_ = true;
    // The initiator proves itself first: a responder signs nothing for a
    // caller that has not shown a member's signature.
    if (role_ == Role::initiator) seal_auth(progress.to_send);
  }
  if (inbox_.size() < header_bytes + 4) return progress;
  if (get_u32(inbox_.data() + header_bytes) != auth_bytes + tag_bytes) return fail(Reject::garbled_frame);
  if (inbox_.size() < header_bytes + auth_frame_bytes) return progress;
  if (auto refused = check_auth()) return fail(*refused);
  if (role_ == Role::responder) seal_auth(progress.to_send);
  // Bytes after the handshake are the first frames of the channel.
  channel_->inbox_.assign(inbox_.begin() + static_cast<std::ptrdiff_t>(header_bytes + auth_frame_bytes), inbox_.end());
  inbox_.clear();
  done_ = true;
  progress.done = true;
  return progress;
}

// transcript = H(context, network, version, initiator ephemeral, responder ephemeral)
bool Handshake::hash_transcript(std::span<const std::uint8_t> peer_ephemeral) {
  const bool initiator = role_ == Role::initiator;
  Bytes network_length;
  put_u32(network_length, static_cast<std::uint32_t>(network_.size()));
  const std::span<const std::uint8_t> ours(keys_->ephemeral_public);
  const std::span<const std::uint8_t> parts[] = {
      {reinterpret_cast<const std::uint8_t*>(transcript_context.data()), transcript_context.size()},
      network_length,
      {reinterpret_cast<const std::uint8_t*>(network_.data()), network_.size()},
      {hello_.data() + 4, 2},
      initiator ? ours : peer_ephemeral,
      initiator ? peer_ephemeral : ours,
  };
  crypto_generichash_state hash;
  bool ok = crypto_generichash_init(&hash, nullptr, 0, keys_->transcript.size()) == 0;
  for (const auto& part : parts) ok = ok && crypto_generichash_update(&hash, part.data(), part.size()) == 0;
  ok = ok && crypto_generichash_final(&hash, keys_->transcript.data(), keys_->transcript.size()) == 0;
  sodium_memzero(&hash, sizeof hash);
  return ok;
}

std::optional<Reject> Handshake::answer_hello() {
  // The hello is compared, not parsed: magic, version and network tag must
  // equal ours byte for byte.
  if (std::memcmp(inbox_.data(), hello_.data(), 4 + 2 + 8) != 0) return Reject::wrong_network;
  std::array<std::uint8_t, crypto_kx_PUBLICKEYBYTES> peer_ephemeral{};
  std::memcpy(peer_ephemeral.data(), inbox_.data() + 14, peer_ephemeral.size());
  if (peer_ephemeral == keys_->ephemeral_public) return Reject::bad_signature;  // our own hello reflected
  const int rc = role_ == Role::initiator
                     ? crypto_kx_client_session_keys(keys_->rx.data(), keys_->tx.data(),
                                                     keys_->ephemeral_public.data(), keys_->ephemeral_secret.data(),
                                                     peer_ephemeral.data())
                     : crypto_kx_server_session_keys(keys_->rx.data(), keys_->tx.data(),
                                                     keys_->ephemeral_public.data(), keys_->ephemeral_secret.data(),
                                                     peer_ephemeral.data());
  // libsodium refuses a weak peer key: not a signature problem, but the same
  // answer a forged handshake gets.
  if (rc != 0) return Reject::bad_signature;
  sodium_memzero(keys_->ephemeral_secret.data(), keys_->ephemeral_secret.size());  // forward secrecy
  if (!hash_transcript(peer_ephemeral)) return Reject::crypto_failure;

  // Stream keys bound to the transcript.
  std::array<std::uint8_t, key_bytes> tx_key{}, rx_key{};
  const bool keyed = crypto_generichash(tx_key.data(), tx_key.size(), keys_->transcript.data(),
                                        keys_->transcript.size(), keys_->tx.data(), keys_->tx.size()) == 0 &&
                     crypto_generichash(rx_key.data(), rx_key.size(), keys_->transcript.data(),
                                        keys_->transcript.size(), keys_->rx.data(), keys_->rx.size()) == 0;
  channel_.reset(new Channel());
  const bool pushing = keyed && crypto_secretstream_xchacha20poly1305_init_push(&channel_->state_->push,
                                                                                keys_->header.data(), tx_key.data()) == 0;
  sodium_memzero(tx_key.data(), tx_key.size());
  std::memcpy(keys_->rx.data(), rx_key.data(), rx_key.size());  // kept until the peer's header arrives
  sodium_memzero(rx_key.data(), rx_key.size());
  if (!pushing) {
    channel_.reset();
    return Reject::crypto_failure;
  }
  return std::nullopt;
}

void Handshake::seal_auth(Bytes& to_send) {
  Bytes auth(self_.key.begin(), self_.key.end());
  const Signature signature = self_.sign(signed_transcript(keys_->transcript, static_cast<std::uint8_t>(role_)));
  auth.insert(auth.end(), signature.begin(), signature.end());
  to_send.assign(keys_->header.begin(), keys_->header.end());
  const Bytes frame = channel_->seal(auth);
  to_send.insert(to_send.end(), frame.begin(), frame.end());
}

std::optional<Reject> Handshake::check_auth() {
  const int pulling = crypto_secretstream_xchacha20poly1305_init_pull(&channel_->state_->pull, inbox_.data(),
                                                                      keys_->rx.data());
  sodium_memzero(keys_->rx.data(), keys_->rx.size());
  if (pulling != 0) return Reject::garbled_frame;
  std::array<std::uint8_t, auth_bytes> auth{};
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&channel_->state_->pull, auth.data(), nullptr, &tag,
                                                 inbox_.data() + header_bytes + 4, auth_bytes + tag_bytes, nullptr,
                                                 0) != 0 ||
      tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
    return Reject::garbled_frame;
  std::memcpy(peer_.data(), auth.data(), peer_.size());
  Signature signature{};
  std::memcpy(signature.data(), auth.data() + peer_.size(), signature.size());
  switch (membership_(peer_)) {
    case KeyStatus::member: break;
    case KeyStatus::unknown: return Reject::unknown_key;
    case KeyStatus::revoked: return Reject::revoked_key;
  }
  if (expected_peer_ && *expected_peer_ != peer_) return Reject::wrong_peer;
  const auto peer_role = static_cast<std::uint8_t>(role_ == Role::initiator ? Role::responder : Role::initiator);
  if (!verify(peer_, signed_transcript(keys_->transcript, peer_role), signature)) return Reject::bad_signature;
  return std::nullopt;
}

std::unique_ptr<Channel> Handshake::take_channel() {
  PM_REQUIRE(done_, "take_channel() before the handshake is done");
  return std::move(channel_);
}

}  // namespace placemesh::net
