#pragma once
// The simulator's convergence checker (STYLE 19: checker apart from
// workload). After healing, a run has converged when every node is up and
//   - every node holds the same knowledge (digest: per origin, `through` and
//     the cloud above it),
//   - every counter equals the oracle's sum of acknowledged operations,
//   - every node derives the same board, each centre's as-of time included.
// When it has not, `differences` says what differs, node by node: which
// origins' knowledge (against the union of all nodes' knowledge), which
// counters (against the oracle), which roster versions, which board fields (against the first node
// that is up), with the as-of and last-heard times of the centres involved —
// enough to start debugging from the report alone.
//
// Pure reads of the replicas it is given; called on the simulator's thread.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "crdt/key.hpp"
#include "crdt/origin.hpp"
#include "crdt/value.hpp"

namespace placemesh {
class Replica;
}

namespace placemesh::sim {

// Per counter key, per origin: what was acknowledged.
using Oracle = std::map<Key, std::map<Origin, Counter>>;
// What every node must show for one key: the sum over its origins.
[[nodiscard]] Counter total(const std::map<Origin, Counter>& origins);

struct NodeView {
  std::string name;
  const Replica* replica = nullptr;  // null while the node is down
};

// Readable names for origins: the node's name, and its epoch's place among
// the epochs seen of that node ("CIM", then "CIM~2" after a wipe).
class OriginNames {
 public:
  void add(const std::string& node, const Origin& origin);
  [[nodiscard]] std::string operator()(const Origin& origin) const;

 private:
  std::map<Origin, std::string> names_;
  std::map<std::string, int> epochs_;
};

// True when the nodes have converged (the three conditions above).
[[nodiscard]] bool converged(const std::vector<NodeView>& nodes, const Oracle& oracle);

// What keeps them from it, one line per finding ("" when converged).
[[nodiscard]] std::string differences(const std::vector<NodeView>& nodes, const Oracle& oracle,
                                      const OriginNames& names);

}  // namespace placemesh::sim
