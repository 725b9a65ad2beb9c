#pragma once
// The node core (DESIGN §5): one node of a placemesh network, without
// sockets, timers or threads of its own. It owns
//   - the replica (ledger, store; the command and intake paths),
//   - the gossip state machine (net/gossip) that replicates it,
//   - the heartbeat schedule,
//   - the one rule for rosters: which roster a node starts with (never an
//     older one than its store accepted), and installing a newer one offered
//     by the API or a peer (signed by the admin key, durable before it is
//     used, then the links follow it and every peer is offered it),
//   - who may link: members yes; revoked and unknown keys no.
// It is assembled here once, by open(), for both of its owners: placemeshd
// wraps it with Asio (node/mesh carries the links, node/api serves HTTP),
// the simulator (tests/sim) with a simulated clock and network. What the
// simulator proves is what runs.
//
// It must not touch sockets, timers or threads: the owner feeds link events
// into gossip(), calls tick() no later than next_wakeup_ms(), and runs
// everything on one thread (the io thread).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "crdt/limits.hpp"
#include "net/gossip.hpp"
#include "net/identity.hpp"
#include "net/secure_channel.hpp"
#include "node/replica.hpp"
#include "node/admin_trust.hpp"
#include "node/roster.hpp"
#include "node/store.hpp"

namespace placemesh {

// What the core tells its owner, on the io thread.
class NodeEvents {
 public:
  virtual ~NodeEvents() = default;
  // The merged state changed (live views: the API's event streams).
  virtual void changed() = 0;
  // A peer sent something refused: a record or message, or a roster
  // ("bad_roster"); reason is a code name.
  virtual void refused(const PublicKey& peer, const std::string& reason) = 0;
  // A link that was up went down (for the log).
  virtual void link_lost(const PublicKey& peer, const std::string& why) = 0;
  // A newer roster is in use (from the API or a peer): the links have
  // followed it; the owner's wake-up may be earlier now.
  virtual void roster_installed(const Roster& roster) = 0;
};

// The seams: everything non-deterministic comes in here (STYLE 3).
struct CoreSeams {
  Replica::Clock wall_ms;    // ms since the Unix epoch: records, the board
  Gossip::Clock steady_ms;   // never steps: gossip intervals, heartbeats
  Replica::Post post;        // store completions back to the io thread
  std::uint64_t rng_seed = 0;  // gossip redial jitter
};

struct CoreSettings {
  PublicKey admin_key{};
  // The roster the node was given (signed text, as read from roster_file)
  // and where it came from, for messages.
  std::string roster_text;
  std::string roster_source;
  std::string data_source;  // the store's directory, for messages
  std::int64_t sync_interval_ms = limits::sync_interval_ms;
  std::int64_t silence_max_ms = limits::silence_max_ms;
  std::int64_t heartbeat_interval_ms = limits::heartbeat_interval_ms;
  // Link only to these members (a partial mesh: the simulator's
  // topologies); every other member when empty.
  std::set<PublicKey> links_only;
};

class NodeCore final : private ReplicaEvents, private GossipEvents {
 public:
  // Chooses the roster (the given one if newer than the store's installed
  // one, and installs it; the installed one otherwise), checks that `key`
  // is a member under it, and loads the store. Errors: bad_config (roster,
  // network or membership), bad_key_file (another node's key), the store's.
  // `key`, `transport` and `events` must outlive the core.
  [[nodiscard]] static Result<std::unique_ptr<NodeCore>> open(std::unique_ptr<Store> store, const SecretKey& key,
                                                              CoreSettings settings, CoreSeams seams,
                                                              GossipTransport& transport, NodeEvents& events);
  ~NodeCore() override;
  NodeCore(const NodeCore&) = delete;
  NodeCore& operator=(const NodeCore&) = delete;

  // Links to the roster's members and writes the first heartbeat.
  void start();
  // No more operations (busy: "stopping"), heartbeats or pushes; what is in
  // flight still completes.
  void stop();
  // Heartbeats on or off (the simulator holds them while it checks
  // convergence); on by default.
  void heartbeats(bool on);

  // Digests, silent links, redials and heartbeats that are due.
  void tick();
  // When tick() must run next (steady clock).
  [[nodiscard]] std::int64_t next_wakeup_ms() const;

  // Installs a signed roster if the admin signed it and it is newer (true),
  // keeps the current one if it is not newer (false), or says why it is
  // refused. Then drops links to nodes no longer listed, dials new ones and
  // offers it to every peer.
  [[nodiscard]] Result<bool> install_roster(const std::string& text);
  // Whether `peer` may link to this node under the current roster (the
  // handshake's check).
  [[nodiscard]] net::KeyStatus key_status(const PublicKey& peer) const;
  // A node's name in the roster, or its short key.
  [[nodiscard]] std::string name_of(const PublicKey& key) const;

  [[nodiscard]] Replica& replica() { return *replica_; }
  [[nodiscard]] const Replica& replica() const { return *replica_; }
  [[nodiscard]] Gossip& gossip() { return *gossip_; }
  [[nodiscard]] const Gossip& gossip() const { return *gossip_; }
  [[nodiscard]] const Roster& roster() const { return replica_->roster(); }
  // The admin key rosters are taken from (node/admin_trust.hpp).
  [[nodiscard]] const PublicKey& admin_key() const { return trust_->current(); }
  [[nodiscard]] const PublicKey& self() const { return self_; }

 private:
  NodeCore(const SecretKey& key, CoreSettings settings, CoreSeams seams, GossipTransport& transport,
           NodeEvents& events);
  // ReplicaEvents
  void changed() override;
  void committed(const std::vector<Record>& records) override;
  // GossipEvents
  void refused(const PublicKey& peer, const std::string& reason) override;
  void roster_offered(const PublicKey& peer, const std::string& text) override;
  void link_lost(const PublicKey& peer, const std::string& why) override;

  [[nodiscard]] std::vector<PublicKey> peers() const;

  PublicKey self_;
  CoreSettings settings_;
  CoreSeams seams_;
  NodeEvents& events_;
  std::unique_ptr<AdminTrust> trust_;  // the admin key rosters are taken from
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<Gossip> gossip_;
  std::optional<std::int64_t> next_heartbeat_ms_;  // none while heartbeats are off
  bool heartbeats_on_ = true;
  bool started_ = false, stopped_ = false;
};

}  // namespace placemesh
