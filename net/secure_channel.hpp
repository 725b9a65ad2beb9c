#pragma once
// The secure link of DESIGN §4.2, as pure state machines over bytes: no
// sockets, no clock (the caller enforces limits::handshake_timeout_ms), so
// the Asio adapter, the simulator and the fuzzers drive the same code.
// Wire format in net/PROTOCOL.md.
//
// Handshake (both sides send their hello at once; the initiator proves
// itself first):
//   1. hello, plaintext, fixed size: magic "PMSH", protocol version, the
//      first 8 bytes of BLAKE2b(network id), a fresh crypto_kx public key.
//   2. the proof: the secretstream header for our direction, then one sealed
//      frame holding our Ed25519 public key and our signature over the
//      transcript (network id, version, both ephemerals) and our role. The
//      initiator sends it after the peer's hello; the responder only after
//      it has checked the initiator's, so an unauthenticated caller never
//      makes a node sign.
// The stream keys come from crypto_kx and are bound to the transcript, so a
// hello changed in flight makes every later frame fail. Nothing but the
// fixed-size hello is read before it is authenticated; a failure gives the
// caller a reason to count and log, and the peer nothing (the caller just
// closes the connection).
//
// Thread contract: one object per connection, used by one thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/origin.hpp"
#include "net/identity.hpp"

namespace placemesh::net {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint16_t protocol_version = 1;
inline constexpr std::size_t hello_bytes = 4 + 2 + 8 + 32;
// A sender marks every this many frames with the secretstream REKEY tag;
// both directions then move to new keys.
inline constexpr std::uint64_t rekey_interval_frames = 1 << 16;

// Why a link was refused or closed; counted per reason (DESIGN §4.2).
enum class Reject : std::uint8_t {
  wrong_network,    // the hello names another network (or another protocol)
  unknown_key,      // the peer's key is not in the roster
  revoked_key,      // the peer's key was revoked
  wrong_peer,       // we dialled one node and another answered
  bad_signature,    // the transcript signature does not verify
  garbled_frame,    // a frame failed authentication: tampered, replayed, reordered, or cut
  oversize_frame,   // a length over the frame limit (refused before allocating)
  crypto_failure,   // a libsodium call failed on our side: the handshake fails closed
};
[[nodiscard]] std::string_view reject_name(Reject reason);

enum class KeyStatus : std::uint8_t { member, unknown, revoked };

// Who we are in a handshake: our public key and a way to sign with it.
struct Signer {
  PublicKey key{};
  std::function<Signature(std::span<const std::uint8_t>)> sign;
  // The usual signer; `key` must outlive the Signer.
  [[nodiscard]] static Signer of(const SecretKey& key) {
    return {key.public_key(), [&key](std::span<const std::uint8_t> message) { return key.sign(message); }};
  }
};
using Membership = std::function<KeyStatus(const PublicKey&)>;

// Seals outgoing messages and opens incoming frames after a handshake.
class Channel {
 public:
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // One frame: 4-byte big-endian length, then the ciphertext.
  [[nodiscard]] Bytes seal(std::span<const std::uint8_t> message);

  struct Opened {
    std::vector<Bytes> messages;
    std::optional<Reject> failed;  // the link must be closed
  };
  // Feeds received bytes (any split); returns every complete message. After
  // a failure every later call fails too.
  [[nodiscard]] Opened open(std::span<const std::uint8_t> bytes);

  [[nodiscard]] std::uint64_t frames_sealed() const { return sealed_; }

 private:
  friend class Handshake;
  Channel();
  struct State;
  std::unique_ptr<State> state_;
  Bytes inbox_;
  std::uint64_t sealed_ = 0;
  std::optional<Reject> failed_;
};

class Handshake {
 public:
  enum class Role : std::uint8_t { initiator = 1, responder = 2 };

  // expected_peer: the node the initiator dialled (nullopt for a responder).
  Handshake(Role role, Signer self, std::string_view network, Membership membership,
            std::optional<PublicKey> expected_peer);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // What to send as soon as the connection is up.
  [[nodiscard]] const Bytes& hello() const { return hello_; }

  struct Progress {
    Bytes to_send;
    bool done = false;
    std::optional<Reject> failed;
  };
  // Feeds received bytes (any split). When done, take the channel; bytes
  // received past the handshake are already inside it (call open() with an
  // empty span to read them). Every libsodium call is checked: one that
  // fails ends the handshake with crypto_failure, never a half-keyed link.
  [[nodiscard]] Progress receive(std::span<const std::uint8_t> bytes);

  [[nodiscard]] const PublicKey& peer() const { return peer_; }
  [[nodiscard]] std::unique_ptr<Channel> take_channel();

 private:
  // The parts of receive(): the peer's hello (keys, transcript, our
  // stream), our proof (header and sealed signature), the peer's proof.
  [[nodiscard]] std::optional<Reject> answer_hello();
  void seal_auth(Bytes& to_send);
  [[nodiscard]] std::optional<Reject> check_auth();
  [[nodiscard]] bool hash_transcript(std::span<const std::uint8_t> peer_ephemeral);

  struct Keys;
  Role role_;
  Signer self_;
  std::string network_;
  Membership membership_;
  std::optional<PublicKey> expected_peer_;
  std::unique_ptr<Keys> keys_;
  Bytes hello_;
  Bytes inbox_;
  bool keyed_ = false;  // the peer's hello was taken
  bool done_ = false;
  std::optional<Reject> failed_;
  PublicKey peer_{};
  std::unique_ptr<Channel> channel_;
};

}  // namespace placemesh::net
