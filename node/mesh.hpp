#pragma once
// The node core's links over Asio (the GossipTransport of node/node_core):
// it listens on gossip_listen, dials the peers the gossip asks for (the
// smaller key dials, so each pair has one link), runs each connection's
// handshake (net/link, with the core's rule for who may link), hands
// messages and link changes to the core's gossip and ticks the core on a
// timer. It counts every refused connection or message by reason and logs
// each peer at most once a minute.
//
// It must not decide anything about records or rosters: that is the core's.
//
// Thread contract: the io thread only. The Mesh must be stopped and the
// io_context drained of its handlers before it is destroyed.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <set>
#include <memory>
#include <string>

#include "crdt/limits.hpp"
#include "net/gossip.hpp"
#include "net/link.hpp"
#include "node/config.hpp"
#include "node/handshake_gate.hpp"
#include "node/inbound_verifier.hpp"
#include "node/node_core.hpp"

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
  Gossip::LeftOut digest_left_out;  // what our digests left out to stay within the limits
  // node/inbound_verifier: messages and records checked off the io thread,
  // how often a link was not read from because too much waited, and large
  // messages passed on unchecked while the node took no records.
  std::uint64_t checked_messages = 0, checked_records = 0, check_pauses = 0, passed_unchecked = 0;
};

class Mesh final : public GossipTransport {
 public:
  Mesh(asio::io_context& io, const Config& config, const SecretKey& key);
  ~Mesh() override;
  Mesh(const Mesh&) = delete;
  Mesh& operator=(const Mesh&) = delete;

  // Listens (bad_config naming gossip_listen when it cannot) and from now on
  // carries `core`'s links; start the core after this.
  [[nodiscard]] Status start(NodeCore& core);
  void stop();

  // The core's wake-up may be earlier (a roster was installed): re-arm.
  void rearm();
  // A refused connection or message (the core's refusals come here too).
  void count_rejection(const std::string& reason, const std::string& who);
  // The address of the link to `peer` when it is up, its name otherwise.
  [[nodiscard]] std::string describe(const PublicKey& peer) const;

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
  // Whether `link` is the one gossip knows for its peer (not a replaced one).
  [[nodiscard]] bool current(const std::shared_ptr<net::Link>& link) const;
  // A message of a link, its signatures checked (or small): to gossip.
  void deliver(const std::shared_ptr<net::Link>& link, const net::Bytes& message,
               const InboundVerifier::Vouched* vouched);
  void on_down(const std::shared_ptr<net::Link>& link, std::optional<net::Reject> reason, const std::string& why);
  void tick();
  [[nodiscard]] net::Link::Settings settings(net::Handshake::Role role, std::optional<PublicKey> expected) const;

  asio::io_context& io_;
  const Config& config_;
  const SecretKey& key_;
  NodeCore* core_ = nullptr;  // from start()
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_timer_;
  asio::steady_timer tick_timer_;
  std::int64_t armed_for_ms_ = 0;  // when tick_timer_ fires
  net::LinkEvents events_;
  std::map<PublicKey, Links> links_;
  std::vector<std::shared_ptr<net::Link>> handshaking_;  // accepted, not yet up
  std::unique_ptr<InboundVerifier> inbound_;  // record signatures off the io thread; from start()
  HandshakeGate gate_;                  // who gets a handshake at accept
  std::uint64_t gate_roster_version_ = 0;  // the roster gate_'s member hosts come from
  std::map<std::string, std::uint64_t> rejections_;
  std::map<std::string, std::int64_t> last_logged_ms_;
  bool stopped_ = false;
};

}  // namespace placemesh
