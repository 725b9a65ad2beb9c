#pragma once
// The replica (DESIGN §5): the node's CRDT state, its store and — with the
// replication issue — its gossip state machine. No sockets, no threads of its
// own: every method runs on the io thread, and the store's completions come
// back to it through `post` (the seam the simulator replaces, with the clock).
//
// The replica owns the ledger and the store and ties the two paths to them
// (node/README.md draws both): node/command_path.cpp, how a local
// operation becomes durable; node/intake_path, what happens when a peer's
// records arrive (an object of its own, called from replica.cpp once the
// replica has room for what it takes). replica.cpp also holds construction,
// roster installation and the views.
//
// A local operation is checked, turned into records, applied to the ledger at
// once (so the next operation sees it), and answered only when the store has
// made it durable. If a commit fails, the replica refuses writes until every
// batch in flight has completed, then reloads the ledger from the store, so
// what it shows is again exactly what is on disk. A store that failed for
// want of room writes again, without a restart, once it has room
// (node/store_room.cpp).
//
// Operation ids (DESIGN §3.5): a successful operation's receipt is stored
// with its records; a retry with the same op_id gets that receipt back,
// whether the first attempt is still in flight or long committed; the same
// op_id with a different operation, pool, count or reason is refused
// (op_id_reused). Refusals change nothing and are not remembered: a retry is
// judged afresh.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crdt/board.hpp"
#include "crdt/limits.hpp"
#include "crdt/ledger.hpp"
#include "crdt/operations.hpp"
#include "crdt/writer.hpp"
#include "net/gossip.hpp"
#include "net/identity.hpp"
#include "node/intake_path.hpp"
#include "node/operation.hpp"
#include "node/admin_trust.hpp"
#include "node/roster.hpp"
#include "node/store.hpp"

namespace placemesh {

struct ReplicaStatus {
  std::string node;
  Origin origin;
  std::uint64_t seq = 0;
  std::size_t records = 0;
  StoreStats store;
  std::string state;  // "ok", "read-only: …", "recovering: …", "short of room: …"
  bool writable = false;  // local operations are taken (all but read-only and recovering)
  std::uint64_t operations = 0;
  std::uint64_t replays = 0;
  std::uint64_t refusals = 0;
  std::uint64_t refusals_unaudited = 0;  // counted only (the audit log's per-minute share was used)
  std::size_t room_bytes = 0;    // left in the store's map (node/store_room.cpp)
  std::size_t margin_bytes = 0;  // of it, kept for this node's own operations
  std::uint64_t refused_for_room = 0;  // records from peers refused for want of room
  std::size_t unowned_origins = 0;     // held, of keys no roster entry owns: not offered to peers
  std::uint64_t signatures_checked = 0;  // by the intake itself (on the io thread), not vouched for
  // Records refused for a member's quotas here (node/intake_path), by the
  // member's roster name and the quota.
  std::map<std::string, std::map<std::string, std::uint64_t>> quota_refusals;
};

// What the replica tells its owner (node/node_core), on the io thread.
class ReplicaEvents {
 public:
  virtual ~ReplicaEvents() = default;
  // The merged state changed (an operation, records from a peer, a reload).
  virtual void changed() = 0;
  // This node's own records, once durable (the eager push).
  virtual void committed(const std::vector<Record>& records) = 0;
};

class Replica final : public GossipHost {
 public:
  using Post = std::function<void(std::function<void()>)>;
  using Clock = std::function<std::int64_t()>;  // ms since the Unix epoch
  using Done = std::function<void(OperationOutcome)>;

  // `key` signs this node's records; it and `events` must outlive the
  // Replica. `roster_text` is the signed text of `roster`, forwarded to peers.
  Replica(Roster roster, std::string roster_text, const SecretKey& key, std::unique_ptr<Store> store, Loaded loaded,
          Clock clock, Post post, ReplicaEvents& events);
  ~Replica() override;
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  void execute(OperationRequest request, Done done);
  // Adds a line to the local audit log (DESIGN §5), without waiting for it.
  void audit(const OperationRequest& request, std::string_view result);
  // From now on operations are refused (busy: "stopping"); those in flight
  // still complete.
  void stop();
  // Writes this node's heartbeat (as-of for its centre on every board).
  void heartbeat();

  [[nodiscard]] Board board() const;
  // The merged state, for inspection (the simulator's checks).
  [[nodiscard]] const Ledger& ledger() const { return ledger_; }
  // Grows whenever the merged state changes (live updates compare it);
  // each change is also told to ReplicaEvents::changed.
  [[nodiscard]] std::uint64_t changes() const { return changes_; }
  // When this node last heard from each node key (its own: now).
  [[nodiscard]] std::optional<std::int64_t> last_heard_ms(const PublicKey& key) const;
  // The same for a roster node: the newest over its current and retired keys.
  [[nodiscard]] std::optional<std::int64_t> last_heard_ms(const RosterNode& node) const;
  [[nodiscard]] ReplicaStatus status() const;
  [[nodiscard]] const Roster& roster() const { return roster_; }
  [[nodiscard]] const std::string& roster_text() const override { return roster_text_; }
  [[nodiscard]] std::uint64_t roster_version() const override { return roster_.version; }
  // Installs a signed roster if `trust` takes its signer and it is newer
  // than the current one (true), keeps the current one if not newer (false),
  // or says why it is refused. Writes it to the store before using it (a
  // blocking commit on the io thread: rosters change rarely); a roster that
  // hands the admin key over retires the old key in the same commit.
  [[nodiscard]] Result<bool> install_roster(const std::string& text, AdminTrust& trust);
  // --- records from peers (push, relay, anti-entropy) -------------------------
  // Each record must pass node/record_policy (signature, ownership) before it
  // reaches the ledger; what is new is made durable in the background.
  [[nodiscard]] Received receive_records(const std::vector<Record>& records) override;
  [[nodiscard]] Received receive_delta(const Delta& delta) override;
  // What this node offers its peers: its knowledge, less the origins whose
  // key no roster entry owns (a removed or revoked node). No peer on this
  // roster takes their records, so they are neither offered nor sent, and
  // peers are not shown "behind" on them for ever (issue 15: origins that
  // no peer may accept are never sent).
  [[nodiscard]] const Digest& digest() const override;
  // What a peer lacks, bounded per frame; never this node's own records that
  // are not durable yet (they could be lost to a crash and their seqs
  // reused), nor an unowned origin's.
  [[nodiscard]] Delta delta_for(const Digest& peer) const override;
  // Origins held whose key no roster entry owns (not offered, not sent).
  [[nodiscard]] std::size_t unowned_origins() const { return unowned_.size(); }
  [[nodiscard]] std::uint64_t equivocations() const { return intake_.equivocations(); }
  // Records whose signatures node/inbound_verifier checked off the io
  // thread, for the message being taken now (nullptr after it).
  void vouch(const std::set<RecordPrint>* checked) { intake_.vouch(checked); }
  // Whether records from peers are taken now at all: not while the store
  // failed, is read-only or busy, or the node is short of room (a message
  // is then refused whole before its signatures are looked at).
  [[nodiscard]] bool taking_from_peers() const { return can_receive() && !room_short_; }

  // True while this node is in its own roster (a removed node stops writing).
  [[nodiscard]] bool enrolled() const { return self_ != nullptr; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] NodeRole role() const { return role_; }
  [[nodiscard]] std::int64_t now_ms() const { return clock_(); }
  // Operations waiting for the store.
  [[nodiscard]] std::size_t in_flight() const { return in_flight_; }
  // The config asks for a map of `map_bytes` (placemeshd's reload): grows the
  // store's map as soon as no batch is in flight, which also ends a
  // read-only state for want of room (node/store_room.cpp).
  void grow_store(std::size_t map_bytes);

 private:
  struct Waiting {
    std::string receipt;
    std::string fingerprint;  // operation|pool|amount|reason
    std::vector<Done> callers;
  };
  [[nodiscard]] Result<Records> make_records(const OperationRequest& request, std::int64_t now);
  [[nodiscard]] std::string receipt(const OperationRequest& request, const Record& last, std::int64_t now) const;
  void committed(const std::string& op_id, const Status& status);
  void batch_done(const Status& status);
  void reload();
  void persist_received(const std::vector<Record>& added, const std::set<Origin>& also = {});
  // Records from peers are taken only when a batch can be queued for them
  // (half the queue stays for local operations) and never of our own origin.
  [[nodiscard]] bool can_receive() const;
  // node/store_room.cpp: the room left in the map, the margin kept for local
  // operations, and making a full store writable again.
  [[nodiscard]] std::size_t margin_bytes() const;
  void update_room();
  [[nodiscard]] bool room_for_peers(std::size_t records);
  void set_room_short(bool short_now);
  // `probe`: also ask a full store whether it has room again (the
  // heartbeat); otherwise only grow a map that a reload asked for.
  void try_resume(bool probe);

  Roster roster_;
  std::string roster_text_;
  const SecretKey& key_;
  const RosterNode* self_;  // null once a roster no longer lists this node
  std::string name_;
  NodeRole role_;
  std::unique_ptr<Store> store_;
  Ledger ledger_;
  Writer writer_;
  std::string origin_text_;
  Clock clock_;
  Post post_;
  ReplicaEvents& events_;
  std::map<std::string, Waiting, std::less<>> pending_;  // op_id → callers waiting for its commit
  std::size_t in_flight_ = 0;  // batches submitted and not yet completed
  std::optional<Error> failed_;  // a commit failed; reload when in_flight_ reaches 0
  bool stopping_ = false;
  std::uint64_t operations_ = 0, replays_ = 0, refusals_ = 0;
  // Refusals written to the audit log per actor in the current minute; the
  // rest are counted and written as one line when the minute is over.
  struct RefusalWindow {
    std::int64_t start_ms = 0;
    std::size_t written = 0;
    std::uint64_t skipped = 0;
  };
  std::map<std::string, RefusalWindow, std::less<>> refusal_windows_;  // bounded: one per token name
  std::uint64_t refusals_unaudited_ = 0;
  std::uint64_t durable_seq_ = 0;  // the highest own seq known to be committed
  // Held origins whose key the roster owns no more: set when a roster is
  // taken (none can arrive later: node/record_policy refuses them).
  std::set<Origin> unowned_;
  mutable Digest offered_;  // digest() while unowned_ is not empty
  void find_unowned();
  std::size_t room_bytes_ = 0;     // left in the map, as last asked (update_room)
  // What peers' batches not yet committed may take (store_record_bytes_estimate each record).
  std::size_t peer_bytes_in_flight_ = 0;
  bool room_short_ = false;        // records from peers are refused (node/store_room.cpp)
  std::uint64_t refused_for_room_ = 0;
  std::size_t wanted_map_bytes_ = 0;  // grow_store's latest wish
  bool resume_refusal_logged_ = false;  // "still read-only" once per read-only spell, not every heartbeat
  std::uint64_t changes_ = 0;
  void changed() {
    ++changes_;
    events_.changed();
  }
  IntakePath intake_;  // after the ledger, roster and writer it refers to
};

}  // namespace placemesh
