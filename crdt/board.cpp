#include "crdt/board.hpp"

#include <algorithm>
#include <array>

#include "crdt/names.hpp"

namespace placemesh {

namespace {

constexpr std::array<std::string_view, 4> category_names = {"men", "women", "families", "border"};

std::int64_t visible(const Counter& counter) {
  return static_cast<std::int64_t>(counter.p) - static_cast<std::int64_t>(counter.n);
}

void add_to(Totals& totals, const PoolFigures& pool) {
  totals.design += pool.design;
  totals.operational += pool.operational;
  totals.occupied += pool.occupied;
  totals.blocked += pool.blocked;
  totals.reserved += pool.reserved;
  totals.available += pool.available;
}

}  // namespace

std::string_view category_name(Category category) { return name_of(category_names, category); }

std::optional<Category> category_from_name(std::string_view name) {
  return from_name<Category>(category_names, name);
}

PoolFigures pool_figures(const Ledger& ledger, const PoolSpec& spec, std::int64_t now_ms) {
  PoolFigures figures;
  figures.pool = spec.id;
  figures.category = spec.category;
  figures.design = spec.design;
  figures.operational = ledger.register_value(operational_key(spec.id)).value_or(spec.design);
  figures.occupied = visible(ledger.counter_total(occupied_key(spec.id)));
  for (std::string_view reason : blocked_reasons) {
    const std::int64_t count = visible(ledger.counter_total(blocked_key(spec.id, reason)));
    if (count != 0) figures.blocked_by_reason[std::string(reason)] = count;
    figures.blocked += count;
  }
  std::map<std::string, Reservation> reservations;  // id → joined view
  ledger.for_each_in(Field::reservation, spec.id, [&](const Record& record) {
    const auto& view = std::get<Reservation>(record.value);
    auto [it, fresh] = reservations.emplace(record.key.arg, view);
    if (!fresh) it->second = join(it->second, view);
  });
  for (const auto& [id, reservation] : reservations)
    if (reservation.state == ReservationState::held && reservation.expires_at_ms > now_ms)
      figures.reserved += reservation.count;
  figures.available = figures.operational - figures.occupied - figures.blocked - figures.reserved;
  figures.overbooked = figures.available < 0;
  return figures;
}

Board derive_board(const Ledger& ledger, const BoardSpec& spec, std::int64_t now_ms) {
  std::map<PublicKey, Hlc> newest;  // per node key, over all its epochs
  ledger.for_each_record([&](const Record& record) {
    auto [it, fresh] = newest.emplace(record.origin.key, record.hlc);
    if (!fresh) it->second = std::max(it->second, record.hlc);
  });

  Board board;
  for (const auto& centre : spec.centres) {
    CentreFigures figures{centre.code, centre.name, std::nullopt, {}};
    for (const auto& key : centre.keys) {
      const auto it = newest.find(key);
      if (it != newest.end() && (!figures.as_of || *figures.as_of < it->second)) figures.as_of = it->second;
    }
    for (const auto& pool : centre.pools) {
      figures.pools.push_back(pool_figures(ledger, pool, now_ms));
      add_to(board.totals[pool.category], figures.pools.back());
      add_to(board.national, figures.pools.back());
    }
    board.centres.push_back(std::move(figures));
  }
  return board;
}

}  // namespace placemesh
