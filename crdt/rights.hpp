#pragma once
// Reservation rights of one pool: AntidoteDB's bounded counter (Balegas et
// al., "Putting consistency back into eventual consistency", 2015) expressed
// as cumulative per-origin records (DESIGN §3.4).
//
//   R[i][i]  rights origin i created           key rights/<pool>/<i>, written by i
//   R[i][j]  rights origin i transferred to j  key rights/<pool>/<j>, written by i
//   U[i]     rights origin i used              key used/<pool>,      written by i
//
//   rights at i  = Σ_j R[j][i] − Σ_{j≠i} R[i][j] − U[i]
//
// Only i writes R[i][*] and U[i], and it spends only what its own view shows;
// incoming transfers only grow, so no two nodes can spend the same right.
// In another node's view an origin can look negative (its spending arrived
// before the transfers that funded it); rights_at() reports such an origin
// as holding 0.

#include <cstdint>
#include <string_view>
#include <vector>

#include "crdt/ledger.hpp"

namespace placemesh {

struct RightsHolding {
  Origin origin;
  std::int64_t rights = 0;
  friend bool operator==(const RightsHolding&, const RightsHolding&) = default;
};

// Every origin's balance for the pool as this ledger sees them, largest
// first. In a partial view a balance can be negative (see above).
[[nodiscard]] std::vector<RightsHolding> rights_by_origin(const Ledger& ledger, std::string_view pool);
[[nodiscard]] std::int64_t rights_at(const Ledger& ledger, std::string_view pool, const Origin& origin);
// Σ R[i][i] − Σ U[i]: rights created and not yet used, wherever they are.
[[nodiscard]] std::int64_t rights_total(const Ledger& ledger, std::string_view pool);

}  // namespace placemesh
