#include "crdt/version_vector.hpp"

#include <algorithm>

#include "crdt/assert.hpp"

namespace placemesh {

bool VersionVector::contains(const Origin& origin, std::uint64_t seq) const {
  const auto it = origins_.find(origin);
  if (it == origins_.end()) return false;
  return seq <= it->second.through || it->second.cloud.count(seq) != 0;
}

std::uint64_t VersionVector::through(const Origin& origin) const {
  const auto it = origins_.find(origin);
  return it == origins_.end() ? 0 : it->second.through;
}

std::uint64_t VersionVector::max_seq(const Origin& origin) const {
  const auto it = origins_.find(origin);
  if (it == origins_.end()) return 0;
  return it->second.cloud.empty() ? it->second.through : *it->second.cloud.rbegin();
}

void VersionVector::normalize(OriginKnowledge& knowledge) {
  auto& cloud = knowledge.cloud;
  cloud.erase(cloud.begin(), cloud.upper_bound(knowledge.through));
  while (!cloud.empty() && *cloud.begin() == knowledge.through + 1) {
    knowledge.through = *cloud.begin();
    cloud.erase(cloud.begin());
  }
  PM_ASSERT(cloud.empty() || *cloud.begin() > knowledge.through + 1, knowledge.through);
}

void VersionVector::add(const Origin& origin, std::uint64_t seq) {
  PM_REQUIRE(seq >= 1, seq);
  auto& knowledge = origins_[origin];
  if (seq <= knowledge.through) return;
  knowledge.cloud.insert(seq);
  normalize(knowledge);
}

void VersionVector::raise(const Origin& origin, std::uint64_t seq) {
  if (seq == 0) return;
  auto& knowledge = origins_[origin];
  knowledge.through = std::max(knowledge.through, seq);
  normalize(knowledge);
}

void VersionVector::join(const VersionVector& other) {
  for (const auto& [origin, theirs] : other.origins_) {
    auto& mine = origins_[origin];
    mine.through = std::max(mine.through, theirs.through);
    mine.cloud.insert(theirs.cloud.begin(), theirs.cloud.end());
    normalize(mine);
  }
}

}  // namespace placemesh
