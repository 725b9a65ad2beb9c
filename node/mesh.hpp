#pragma once
// The Asio adapter of the gossip state machine (net/gossip.hpp): it listens
// on gossip_listen, dials the peers the gossip asks for (the smaller key
// dials, so each pair has one link), runs each connection's handshake
// (net/link), hands messages and link changes to the gossip and ticks it on
// a timer. It counts every refused connection or message by reason and logs
// each peer at most once a minute.
//
// Rosters: a signed roster offered by a peer is verified and installed
// (replica), then offered to every peer; a node removed from the roster
// loses its links at once.
//
// Thread contract: the io thread only. The Mesh must be stopped and the
// io_context drained of its handlers before it is destroyed.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "crdt/limits.hpp"
#include "net/gossip.hpp"
#include "net/link.hpp"
#include "node/config.hpp"
#include "node/replica.hpp"

namespace placemesh {

struct PeerStatus {
  std::string name;
  GossipPeer gossip;   // state, contact, traffic
  std::string remote;  // the link's address, when up
  // Lag per node name (its current origin), from the peer's last digest.
  std::map<std::string, OriginLag> behind;
};

struct MeshStatus {
  std::vector<PeerStatus> peers;
  std::map<std::string, std::uint64_t> rejections;  // reason → count, handshake_timeout included
};

class Mesh final : private GossipTransport {
 public:
  Mesh(asio::io_context& io, const Config& config, const SecretKey& key, Replica& replica);
  ~Mesh() override;
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
  struct Links {
    std::shared_ptr<net::Link> link;      // the link in use, if up
    std::shared_ptr<net::Link> dialling;  // our outgoing attempt, in its handshake
  };
  // GossipTransport
  bool send(const PublicKey& peer, const Bytes& bytes) override;
  void close(const PublicKey& peer, const std::string& why) override;
  void dial(const PublicKey& peer) override;

  void accept();
  void on_up(const std::shared_ptr<net::Link>& link);
  void on_down(const std::shared_ptr<net::Link>& link, std::optional<net::Reject> reason, const std::string& why);
  void tick();
  void rearm();
  void count_rejection(const std::string& reason, const std::string& who);
  [[nodiscard]] std::string name_of(const PublicKey& key) const;
  [[nodiscard]] std::vector<PublicKey> members() const;
  [[nodiscard]] net::Link::Settings settings(net::Handshake::Role role, std::optional<PublicKey> expected) const;

  asio::io_context& io_;
  const Config& config_;
  const SecretKey& key_;
  Replica& replica_;
  Gossip gossip_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_;
  asio::steady_timer tick_timer_;
  std::int64_t armed_for_ms_ = 0;  // when tick_timer_ fires
  net::LinkEvents events_;
  std::map<PublicKey, Links> links_;
  std::vector<std::shared_ptr<net::Link>> handshaking_;  // accepted, not yet up
  std::map<std::string, std::uint64_t> rejections_;
  std::map<std::string, std::int64_t> last_logged_ms_;
  bool stopped_ = false;
};

}  // namespace placemesh
