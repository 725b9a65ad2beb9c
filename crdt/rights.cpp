#include "crdt/rights.hpp"

#include <algorithm>
#include <map>

namespace placemesh {

namespace {

struct Matrix {
  std::map<Origin, std::int64_t> balance;  // Σ in − Σ out − used, per origin
  std::int64_t created = 0;
  std::int64_t used = 0;
};

Matrix read_matrix(const Ledger& ledger, std::string_view pool) {
  Matrix matrix;
  ledger.for_each_in(Field::rights, pool, [&](const Record& record) {
    const auto to = origin_from_string(record.key.arg);
    PM_ASSERT(to.has_value(), record.key.arg);  // validated on apply
    const auto amount = static_cast<std::int64_t>(std::get<Counter>(record.value).p);
    matrix.balance[*to] += amount;
    if (*to == record.origin) {
      matrix.created += amount;
    } else {
      matrix.balance[record.origin] -= amount;
    }
  });
  ledger.for_each_in(Field::used, pool, [&](const Record& record) {
    const auto amount = static_cast<std::int64_t>(std::get<Counter>(record.value).p);
    matrix.balance[record.origin] -= amount;
    matrix.used += amount;
  });
  return matrix;
}

}  // namespace

std::vector<RightsHolding> rights_by_origin(const Ledger& ledger, std::string_view pool) {
  std::vector<RightsHolding> holdings;
  for (const auto& [origin, balance] : read_matrix(ledger, pool).balance)
    holdings.push_back(RightsHolding{origin, balance});
  std::stable_sort(holdings.begin(), holdings.end(),
                   [](const RightsHolding& a, const RightsHolding& b) { return a.rights > b.rights; });
  return holdings;
}

std::int64_t rights_at(const Ledger& ledger, std::string_view pool, const Origin& origin) {
  const auto matrix = read_matrix(ledger, pool);
  const auto it = matrix.balance.find(origin);
  return it == matrix.balance.end() ? 0 : std::max<std::int64_t>(it->second, 0);
}

std::int64_t rights_total(const Ledger& ledger, std::string_view pool) {
  const auto matrix = read_matrix(ledger, pool);
  return matrix.created - matrix.used;
}

}  // namespace placemesh
