#pragma once
// One link to another node (DESIGN §4.2) on the node's asio::io_context:
// a TCP connection that runs the handshake (net/secure_channel.hpp) within
// limits::handshake_timeout_ms, then carries sealed messages both ways.
//
// Thread contract: everything runs on the io thread; callbacks are called
// there. A Link is shared (it lives while an async operation holds it);
// Events must outlive every Link that uses them.

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "crdt/limits.hpp"
#include "net/secure_channel.hpp"

namespace placemesh::net {

// Bytes waiting to be written to one peer; a message that does not fit is
// dropped and counted (anti-entropy repairs what it carried).

class Link;

struct LinkEvents {
  std::function<void(const std::shared_ptr<Link>&)> up;
  std::function<void(const std::shared_ptr<Link>&, Bytes)> message;
  // Closed. `reason` says why a peer was refused or dropped; nullopt for a
  // plain disconnect, a timeout or a local close (`why` says which).
  std::function<void(const std::shared_ptr<Link>&, std::optional<Reject> reason, const std::string& why)> down;
};

class Link : public std::enable_shared_from_this<Link> {
 public:
  struct Settings {
    Handshake::Role role = Handshake::Role::responder;
    Signer self;
    std::string network;
    Membership membership;
    std::optional<PublicKey> expected_peer;  // the node an initiator dialled
    std::chrono::milliseconds handshake_timeout{5'000};
  };

  [[nodiscard]] static std::shared_ptr<Link> start(asio::ip::tcp::socket socket, Settings settings,
                                                   LinkEvents& events);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Queues a message (after up); false if it was dropped (queue full, closed).
  bool send(std::span<const std::uint8_t> message);
  // Closes the connection; `down` is called once, with `why`.
  void close(const std::string& why);
  // Stops taking bytes from the socket until resume_reading(): what the peer
  // sends then waits in the kernel, and TCP slows the peer (a receiver that
  // cannot keep up, node/inbound_verifier). A read already under way still
  // completes: at most limits::link_read_chunk_bytes more are delivered.
  void pause_reading();
  void resume_reading();

  [[nodiscard]] bool is_up() const { return channel_ != nullptr && open_; }
  [[nodiscard]] const PublicKey& peer() const { return peer_; }
  [[nodiscard]] const std::string& remote() const { return remote_; }
  [[nodiscard]] Handshake::Role role() const { return settings_.role; }
  [[nodiscard]] std::uint64_t dropped() const { return dropped_; }
  [[nodiscard]] bool reading_paused() const { return paused_; }

 private:
  Link(asio::ip::tcp::socket socket, Settings settings, LinkEvents& events);
  void begin();
  void read();
  void received(std::span<const std::uint8_t> bytes);
  void queue(Bytes bytes);
  void write();
  void fail(std::optional<Reject> reason, const std::string& why);

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  Settings settings_;
  LinkEvents& events_;
  std::string remote_;
  std::unique_ptr<Handshake> handshake_;
  std::unique_ptr<Channel> channel_;
  PublicKey peer_{};
  std::vector<std::uint8_t> buffer_;
  std::deque<Bytes> outbox_;
  std::size_t outbox_bytes_ = 0;
  bool writing_ = false;
  bool reading_ = false;  // an async read is outstanding
  bool paused_ = false;
  bool open_ = true;
  std::uint64_t dropped_ = 0;
};

}  // namespace placemesh::net
