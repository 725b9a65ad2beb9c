#pragma once
// The intake path (node/README.md): records from peers — eager push, relay,
// anti-entropy answers — through node/record_policy (signature, ownership)
// into the ledger; and what this node answers a peer's digest with.
//
// Owns: the policy check of every record from a peer (signature, owner,
// clock skew, the key's quotas), when each node was last heard from, the
// equivocation count.
// Must not touch: this node's own origin (its records from peers are only
// read, to detect a restored backup), op ids and receipts (nobody waits for
// what arrives from peers), the store (the replica makes what was taken
// durable), the roster (the node core's; read here).
//
// The replica decides whether records may be taken at all (room in the
// store's queue) before it calls in.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crdt/ledger.hpp"
#include "crdt/limits.hpp"
#include "crdt/writer.hpp"
#include "net/gossip.hpp"
#include "net/record_signing.hpp"
#include "node/roster.hpp"

namespace placemesh {

// The per-key quotas of the intake path; always limits:: in a node (smaller
// in tests, which could not otherwise reach them in a few seconds).
struct IntakeQuotas {
  std::size_t keys = limits::keys_per_key_max;
  std::size_t open_holds = limits::open_holds_per_pool_max;
};

class IntakePath {
 public:
  using Clock = std::function<std::int64_t()>;  // ms since the Unix epoch

  // What was taken: what is new here (to relay and make durable), what was
  // refused, and the origins whose knowledge rose (to make durable too).
  struct Taken {
    Received received;
    std::set<Origin> knowledge_changed;
    bool changed = false;  // the merged state changed
  };

  using Quotas = IntakeQuotas;

  // `ledger`, `roster` and `own` (this node's writer) belong to the replica
  // and outlive the intake path; they may be reassigned in place.
  IntakePath(Ledger& ledger, const Roster& roster, const Writer& own, Clock clock, Quotas quotas = {});

  [[nodiscard]] Taken records(const std::vector<Record>& records);
  [[nodiscard]] Taken delta(const Delta& delta);
  // What a peer with this digest lacks, bounded per frame; never this node's
  // own records above `durable_seq` (they could be lost to a crash and
  // their seqs reused).
  [[nodiscard]] Delta answer(const Digest& peer, std::uint64_t durable_seq) const;

  // The newest stamp (HLC wall time, ms) this node took from that key's
  // records: the node's own word for when it last spoke, at most
  // limits::clock_skew_max_ms ahead of our clock (node/record_policy).
  [[nodiscard]] std::optional<std::int64_t> last_heard_ms(const PublicKey& key) const;
  [[nodiscard]] std::uint64_t equivocations() const { return equivocations_; }

  // Records refused for a node key's quotas here, by key and by quota
  // ("epochs", "cloud", "keys", "open_holds"). Only keys in the roster reach
  // the quotas, so this stays as small as the roster.
  using QuotaRefusals = std::map<PublicKey, std::map<std::string, std::uint64_t>>;
  [[nodiscard]] const QuotaRefusals& quota_refusals() const { return quota_refusals_; }
  // The ledger was replaced in place (the replica reloaded its store).
  void ledger_replaced();
  // Records whose signatures were checked elsewhere (node/inbound_verifier),
  // by print: while set, such a record is not checked again. Set around one
  // message's intake and cleared after it.
  void vouch(const std::set<RecordPrint>* checked) { vouched_ = checked; }
  // Records whose signature the intake checked itself (not vouched for).
  [[nodiscard]] std::uint64_t signatures_checked() const { return signatures_checked_; }

 private:
  [[nodiscard]] bool own_echo(const Record& record, Received& received) const;
  // The quotas one node key has here (issue 15: a member gone bad): a new
  // epoch only while its key has fewer than epochs_per_key_max; a record
  // above a gap only while its origin's cloud has room (anti-entropy brings
  // it again in seq order). quota_exceeded says which.
  // `pending`: epochs of the same key taken earlier in the same answer.
  [[nodiscard]] Status epoch_room(const Origin& origin, std::size_t pending = 0) const;
  [[nodiscard]] Status cloud_room(const Origin& origin, std::uint64_t seq) const;
  // The same for an anti-entropy answer's part: the cloud it would leave.
  [[nodiscard]] Status part_room(const OriginDelta& part) const;
  // A record of a key its node key has no record of yet only while that key
  // has fewer than limits::keys_per_key_max keys here; a held reservation
  // only while its key has fewer than limits::open_holds_per_pool_max open
  // in that pool. `pending`: keys and holds of the same node key taken
  // earlier in the same answer.
  struct Pending {
    std::map<PublicKey, std::size_t> keys;
    std::map<std::pair<PublicKey, std::string>, std::int64_t> holds;  // opened less closed
  };
  [[nodiscard]] Status key_room(const Record& record, const Pending& pending) const;
  [[nodiscard]] Status hold_room(const Record& record, const Pending& pending, std::int64_t now_ms);
  [[nodiscard]] std::size_t keys_of(const PublicKey& key) const;
  // Open holds: the expiry of each held reservation, by (node key, pool).
  // `previous`: the expiry of the held reservation `record` replaced, if any.
  void holds_changed(std::optional<std::int64_t> previous, const Record& record);
  [[nodiscard]] std::size_t open_holds(const PublicKey& key, const std::string& pool, std::int64_t now_ms);
  // Adds the refusal to `received` and counts it against the origin's key.
  void refuse_for_quota(Received& received, const Origin& origin, const char* quota, const Error& error);
  [[nodiscard]] std::string name_of(const Origin& origin) const;
  void equivocation(const Error& error, const char* where);
  void heard(const Record& record);
  [[nodiscard]] bool vouched(const Record& record) const;
  // node/record_policy's admissible(), the signature checked here unless vouched for.
  [[nodiscard]] Status admit(const Record& record);

  Ledger& ledger_;
  const Roster& roster_;
  const Writer& own_;
  Clock clock_;
  Quotas quotas_;
  std::uint64_t equivocations_ = 0;
  std::map<PublicKey, std::int64_t> last_heard_;  // the newest stamp taken of each node key
  std::map<std::pair<PublicKey, std::string>, std::multiset<std::int64_t>> open_holds_;
  QuotaRefusals quota_refusals_;
  const std::set<RecordPrint>* vouched_ = nullptr;
  std::uint64_t signatures_checked_ = 0;
};

}  // namespace placemesh
