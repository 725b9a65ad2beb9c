#pragma once
// The replicated state (DESIGN §3.2–3.3): the latest record per (origin, key)
// plus what this node knows of each origin.
//
// A Ledger is a value: copyable, comparable, no I/O, no clock. Records arrive
// one at a time (eager push, relay) through apply(), or as anti-entropy
// answers through apply_delta(); merge() is the full-state join used to check
// the deltas against. The node persists what apply() accepted; the ledger
// itself never touches a disk.
//
// Invariants (checked by check_invariants(), used in tests):
// - by_seq_ indexes exactly the records in state_, by (origin, seq);
// - every record in state_ is known to vv_.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <vector>

#include "crdt/record.hpp"
#include "crdt/version_vector.hpp"

namespace placemesh {

enum class Applied : std::uint8_t {
  added,      // new information: the record is now the latest of its slot
  stale,      // a newer record of the same (origin, key) is already here
  duplicate,  // exactly this record is already here
};

// The part of an anti-entropy answer about one origin: the sender's latest
// records of that origin with seq > base that the asker lacks, in seq order.
// If the receiver knew everything up to `base` and applies all of them, it
// knows everything up to `through` (the records in between were superseded
// by records it now has). An answer may carry no records and only raise
// `through`: the asker had every record, but not the knowledge that the
// seqs in its gaps were superseded.
//
// `superseded` lists seqs above the sender's own `through` that the sender
// knows, the asker does not, and the sender holds no record of: each was
// replaced by a newer record of its key, which the asker holds once it has
// applied the part. Without them, a seq that only some nodes saw before it
// was superseded would stay known to those alone once its origin is gone (a
// wiped disk): their digests would never agree, and they would report each
// other as behind forever.
struct OriginDelta {
  Origin origin;
  std::uint64_t base = 0;
  std::uint64_t through = 0;
  std::vector<Record> records;
  std::vector<std::uint64_t> superseded;  // ascending
  friend bool operator==(const OriginDelta&, const OriginDelta&) = default;
};

struct Delta {
  std::vector<OriginDelta> origins;
  bool truncated = false;  // the record budget ran out; ask again
  [[nodiscard]] std::size_t record_count() const;
  friend bool operator==(const Delta&, const Delta&) = default;
};

struct DeltaStats {
  std::size_t added = 0;
  std::size_t stale = 0;
  std::size_t duplicate = 0;
  std::size_t rejected = 0;  // invalid or equivocating; counted, never applied
  std::optional<Error> first_rejection;
};

class Ledger {
 public:
  // Applies one record. Errors: invalid_* (the record breaks a rule) and
  // equivocation (its origin signed something else with this seq; the first
  // record is kept). An error leaves the ledger unchanged.
  [[nodiscard]] Result<Applied> apply(const Record& record);

  // For records this node wrote itself: apply, and know every seq below it
  // (the author knows there is nothing else), so a seq lost to a failed
  // commit leaves no hole in what we advertise.
  [[nodiscard]] Result<Applied> apply_local(const Record& record);

  // Every latest record the holder of `peer` lacks, origin by origin in seq
  // order, at most `max_records` in all (a truncated answer still carries a
  // valid high-water mark for every origin it touches).
  [[nodiscard]] Delta delta_since(const Digest& peer,
                                  std::size_t max_records = std::numeric_limits<std::size_t>::max()) const;
  DeltaStats apply_delta(const Delta& delta);

  // The full-state join: for every slot the record with the larger seq; for
  // knowledge the union. Equivocating slots keep this side's record.
  void merge(const Ledger& other);

  // Restores persisted knowledge of one origin after its records were
  // re-applied from the store at start-up.
  void restore_knowledge(const Origin& origin, const OriginKnowledge& knowledge);

  [[nodiscard]] const VersionVector& knowledge() const { return vv_; }
  [[nodiscard]] const Digest& digest() const { return vv_.digest(); }

  // --- reads ---------------------------------------------------------------
  [[nodiscard]] const Record* find(const Origin& origin, const Key& key) const;
  // Σp and Σn over all origins' records of `key` (a counter key).
  [[nodiscard]] Counter counter_total(const Key& key) const;
  // The register value with the largest (hlc, origin), if any was written.
  [[nodiscard]] std::optional<std::int64_t> register_value(const Key& key) const;
  // The join of every origin's view of a reservation, if any.
  [[nodiscard]] std::optional<Reservation> reservation(const Key& key) const;
  // Visits every record whose key has this field and pool, in key order.
  void for_each_in(Field field, std::string_view pool,
                   const std::function<void(const Record&)>& visit) const;
  void for_each_record(const std::function<void(const Record&)>& visit) const;
  [[nodiscard]] std::size_t record_count() const;
  // Records of one origin: one per key it wrote (its latest).
  [[nodiscard]] std::size_t record_count(const Origin& origin) const;

  void check_invariants() const;

  friend bool operator==(const Ledger& a, const Ledger& b) {
    return a.state_ == b.state_ && a.vv_ == b.vv_;
  }

 private:
  using Slots = std::map<Origin, Record>;
  std::map<Key, Slots> state_;                                  // key → origin → record
  std::map<Origin, std::map<std::uint64_t, Key>> by_seq_;       // origin → seq → key
  VersionVector vv_;
};

}  // namespace placemesh
