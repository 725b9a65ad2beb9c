#pragma once
// What a node knows of each origin (DESIGN §3.3): a dotted version vector.
//
// For each origin, `through` is the highest seq such that the node holds the
// effect of every record of that origin up to it, and `cloud` holds the seqs
// received above it. "Holds the effect" allows for supersession: a record
// replaced by a newer one of the same key is never delivered, and need not be.
//
// Knowledge of an origin is the set [1..through] ∪ cloud, always kept in the
// normal form where no element of the cloud is ≤ through + 1, so equal
// knowledge compares equal and join (set union) is a lattice join.

#include <cstdint>
#include <map>
#include <set>

#include "crdt/origin.hpp"

namespace placemesh {

struct OriginKnowledge {
  std::uint64_t through = 0;
  std::set<std::uint64_t> cloud;

  friend bool operator==(const OriginKnowledge&, const OriginKnowledge&) = default;
};

// What nodes exchange for anti-entropy: the whole knowledge, cloud included,
// so an answer never repeats records above a gap the asker already has.
using Digest = std::map<Origin, OriginKnowledge>;

class VersionVector {
 public:
  [[nodiscard]] bool contains(const Origin& origin, std::uint64_t seq) const;
  [[nodiscard]] std::uint64_t through(const Origin& origin) const;
  // Highest seq known at all (through or cloud); 0 when nothing is known.
  [[nodiscard]] std::uint64_t max_seq(const Origin& origin) const;

  // One record's seq is now held.
  void add(const Origin& origin, std::uint64_t seq);
  // Every record up to `seq` is now held (an anti-entropy answer said so).
  void raise(const Origin& origin, std::uint64_t seq);
  void join(const VersionVector& other);

  [[nodiscard]] const Digest& digest() const { return origins_; }
  [[nodiscard]] const std::map<Origin, OriginKnowledge>& origins() const { return origins_; }

  friend bool operator==(const VersionVector&, const VersionVector&) = default;

 private:
  static void normalize(OriginKnowledge& knowledge);
  std::map<Origin, OriginKnowledge> origins_;
};

}  // namespace placemesh
