#pragma once
// Bad peers and bad clients for the fault campaign, as plain blocking
// sockets: bytes that are not the protocol, a session replayed from a
// capture, a handshake with a key the roster does not list (or with a
// member's key, followed by an oversize or forged frame), and HTTP clients
// that connect and never speak, or speak one byte a second.
//
// Each call reports what the far side did, so the campaign can say whether
// the node held (closed the connection, answered nothing) and count it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "crdt/origin.hpp"
#include "net/identity.hpp"
#include "net/record_codec.hpp"

namespace placemesh::faults {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

// What happened to one hostile connection.
struct Exchange {
  bool connected = false;
  bool closed_by_peer = false;      // the node closed it (EOF or reset) within the deadline
  std::size_t bytes_received = 0;   // what the node sent before closing (its hello, say)
  // member_sends: the sealed bytes written on the link, and how long the
  // writes took (the kernel's buffers fill, so this is the rate the node took them at).
  std::size_t bytes_sent = 0;
  double send_seconds = 0;
  std::string note;
};

// Sends `bytes` and waits (up to `deadline`) for the node to close.
[[nodiscard]] Exchange send_bytes(const Endpoint& to, const std::vector<std::uint8_t>& bytes,
                                  std::chrono::milliseconds deadline);

// `count` random bytes drawn from `seed`.
[[nodiscard]] std::vector<std::uint8_t> random_bytes(std::size_t count, std::uint64_t seed);

// What to do after a handshake that the node accepted.
enum class AfterHandshake : std::uint8_t {
  nothing,         // close politely
  oversize_frame,  // announce a frame over frame_bytes_max
  forged_frame,    // a sealed frame with one bit flipped
};

// Dials as `self` (a member's key, or a fresh one the roster lacks), expecting
// the node whose key is `node_key`, then does `after`. `note` says how far
// the handshake got.
[[nodiscard]] Exchange handshake_as(const Endpoint& to, const std::string& network, const SecretKey& self,
                                    const PublicKey& node_key, AfterHandshake after,
                                    std::chrono::milliseconds deadline);

// A member gone bad (issue 15): dials as `self`, a member's key, and once the
// node took the handshake sends each of `messages` (encoded LinkMessages)
// sealed on the link, then holds it open, reading what the node sends, for
// `hold` or until the node closes it. With `done`, it keeps the link alive
// as a peer would (a roster announcement every second: a silent link is
// closed, and what waited on it dropped) and ends early once done() holds.
[[nodiscard]] Exchange member_sends(const Endpoint& to, const std::string& network, const SecretKey& self,
                                    const PublicKey& node_key, const std::vector<Bytes>& messages,
                                    std::chrono::milliseconds hold, const std::function<bool()>& done = {});

// The epoch of a stolen key that the hostile steps write in: the first of
// epoch_flood's, so one that the victim took.
inline constexpr std::uint64_t stolen_epoch = 0x15'0015;

// Records messages carrying one correctly signed heartbeat from each of
// `epochs` epochs of `key` (stolen_epoch, then random ones): what took every
// link of the quickstart network down before epochs had a limit.
[[nodiscard]] std::vector<Bytes> epoch_flood(const SecretKey& key, std::size_t epochs);

// Records messages carrying `holds` correctly signed reservations of `key`
// (an hq member's) in `pool`, each held for one place until `expires_at_ms`,
// in stolen_epoch from seq 2: a stolen dispatcher key holding every place.
[[nodiscard]] std::vector<Bytes> hold_flood(const SecretKey& key, const std::string& pool, std::size_t holds,
                                            std::int64_t expires_at_ms);

// Records messages carrying `count` correctly signed reservations of `key`
// in `pool`, each already cancelled and with the longest reference there
// is, in stolen_epoch from `first_seq`: keys that count toward no board and
// no open-hold quota, only toward the store (and the key quota).
[[nodiscard]] std::vector<Bytes> key_flood(const SecretKey& key, const std::string& pool, std::uint64_t first_seq,
                                           std::size_t count);

// What a member gone bad sends that no honest member does: `count` records
// messages, each one heartbeat of `key` whose signature does not verify,
// each followed by a delta that answers no digest.
[[nodiscard]] std::vector<Bytes> misbehaving_member(const SecretKey& key, std::size_t count);

// HTTP clients that hold connections open without finishing a request:
// `idle` connect and send nothing; `slow` send a request line and then one
// header byte a second. They run on their own thread until stopped. They
// connect from `sources` in turn (the kernel's choice when empty).
class SlowClients {
 public:
  SlowClients(const Endpoint& api, int idle, int slow, const std::vector<std::string>& sources = {});
  ~SlowClients();
  SlowClients(const SlowClients&) = delete;
  SlowClients& operator=(const SlowClients&) = delete;

  [[nodiscard]] int opened() const;
  // How many of them the node has closed so far.
  [[nodiscard]] int closed_by_node();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace placemesh::faults
