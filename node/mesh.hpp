#pragma once
// The node's links to the other nodes of its roster (DESIGN §4): it listens
// on gossip_listen, dials the peers whose key sorts after its own (so each
// pair has one link), redials with capped exponential backoff and jitter,
// and counts every refused connection by reason, logging each peer at most
// once a minute.
//
// What links carry: roster versions, and signed rosters to peers that run an
// older one, so "sign a new roster, hand it to any node" reaches all; a node
// removed from the roster loses its links at once. Records: each durable
// local record is pushed at once to every peer; records new here are relayed
// to every peer but the sender; every sync interval (and when a link comes
// up) each node sends its digest and the peer answers with what it lacks,
// bounded per frame. Every received record passes node/record_policy first.
//
// Thread contract: the io thread only. The Mesh must be stopped and the
// io_context drained of its handlers before it is destroyed.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "crdt/limits.hpp"
#include "net/link.hpp"
#include "net/link_codec.hpp"
#include "node/config.hpp"
#include "node/replica.hpp"

namespace placemesh {

inline constexpr std::int64_t redial_delay_min_ms = 100;
inline constexpr std::int64_t redial_delay_max_ms = 30'000;
inline constexpr std::int64_t rejection_log_interval_ms = 60'000;
// Connections still in their handshake, in all and from one address.
inline constexpr std::size_t handshakes_max = 64;
inline constexpr std::size_t handshakes_per_host_max = 8;
// A link that received nothing (not even the digest every sync interval)
// for this long is closed and redialled.
inline constexpr std::int64_t link_silence_max_ms = 5 * limits::sync_interval_ms;

struct PeerStatus {
  std::string name;
  std::string state;  // "up", "connecting", "waiting", "down"
  std::string remote;
  std::optional<std::int64_t> up_since_ms;
  std::optional<std::int64_t> last_contact_ms;
  std::uint64_t messages_sent = 0, messages_received = 0, dropped = 0;
  // From the peer's last digest: per node name, how many seqs of that node's
  // current origin the peer is behind us (only where it is behind).
  std::map<std::string, std::uint64_t> behind;
};

struct MeshStatus {
  std::vector<PeerStatus> peers;
  std::map<std::string, std::uint64_t> rejections;  // reason → count, handshake_timeout included
};

class Mesh {
 public:
  Mesh(asio::io_context& io, const Config& config, const SecretKey& key, Replica& replica);
  ~Mesh();
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Listens (bad_config naming gossip_listen when it cannot) and dials.
  [[nodiscard]] Status start();
  void stop();

  // A new roster was installed (by the API or a peer): drop links to nodes
  // no longer in it, tell every peer, dial new peers.
  void roster_changed();

  [[nodiscard]] MeshStatus status() const;

 private:
  struct Peer {
    std::shared_ptr<net::Link> link;       // the link in use, if up
    std::shared_ptr<net::Link> dialling;   // our outgoing attempt in progress
    std::unique_ptr<asio::steady_timer> timer;
    std::int64_t delay_ms = redial_delay_min_ms;
    bool connecting = false;  // a TCP connect is in progress
    std::optional<std::int64_t> up_since_ms, last_contact_ms;
    std::uint64_t sent = 0, received = 0;
    Digest last_digest;  // what the peer last said it knows
  };
  void accept();
  void dial_all();
  void dial(const PublicKey& key);
  void schedule_redial(const PublicKey& key);
  void on_up(const std::shared_ptr<net::Link>& link);
  void on_message(const std::shared_ptr<net::Link>& link, net::Bytes message);
  void on_down(const std::shared_ptr<net::Link>& link, std::optional<net::Reject> reason, const std::string& why);
  void send(Peer& peer, const LinkMessage& message);
  void sync();
  // Sends records to every linked peer but `except` (eager push and relay).
  void push(const std::vector<Record>& records, const PublicKey* except);
  void count_refused(const Replica::Received& received, const std::string& who);
  void count_rejection(const std::string& reason, const std::string& who);
  [[nodiscard]] net::Link::Settings settings(net::Handshake::Role role, std::optional<PublicKey> expected) const;
  [[nodiscard]] bool should_dial(const PublicKey& key) const;

  asio::io_context& io_;
  const Config& config_;
  const SecretKey& key_;
  Replica& replica_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_;
  asio::steady_timer sync_timer_;
  net::LinkEvents events_;
  std::map<PublicKey, Peer> peers_;
  std::vector<std::shared_ptr<net::Link>> handshaking_;  // accepted, not yet up
  std::map<std::string, std::uint64_t> rejections_;
  std::map<std::string, std::int64_t> last_logged_ms_;
  std::mt19937_64 jitter_;
  bool stopped_ = false;
};

}  // namespace placemesh
