#pragma once
// The board (DESIGN §1): what dispatchers read. Derived from a ledger and the
// roster's description of centres and pools at a given time; never stored.
//
//   available = operational − occupied − Σ blocked − reserved
//
// A negative `available` is shown as overbooked, never clamped. `operational`
// is the design capacity until the centre sets it. A reservation counts as
// reserved while it is held and its expiry is after `now_ms`. A centre's
// as-of time is the newest HLC of any record of its node's key (all epochs),
// heartbeats included.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crdt/ledger.hpp"

namespace placemesh {

enum class Category : std::uint8_t { men, women, families, border };
[[nodiscard]] std::string_view category_name(Category category);
[[nodiscard]] std::optional<Category> category_from_name(std::string_view name);

struct PoolSpec {
  std::string id;  // "CENTRE/unit"
  Category category = Category::men;
  std::int64_t design = 0;
};

struct CentreSpec {
  std::string code;              // "CIM"
  std::string name;              // "Merksplas"
  std::vector<PublicKey> keys;   // the node(s) that write this centre's records
  std::vector<PoolSpec> pools;
};

struct BoardSpec {
  std::vector<CentreSpec> centres;
};

struct PoolFigures {
  std::string pool;
  Category category = Category::men;
  std::int64_t design = 0;
  std::int64_t operational = 0;
  std::int64_t occupied = 0;
  std::map<std::string, std::int64_t> blocked_by_reason;
  std::int64_t blocked = 0;
  std::int64_t reserved = 0;
  std::int64_t available = 0;
  bool overbooked = false;
  friend bool operator==(const PoolFigures&, const PoolFigures&) = default;
};

struct CentreFigures {
  std::string code;
  std::string name;
  std::optional<Hlc> as_of;
  std::vector<PoolFigures> pools;
  friend bool operator==(const CentreFigures&, const CentreFigures&) = default;
};

struct Totals {
  std::int64_t design = 0;
  std::int64_t operational = 0;
  std::int64_t occupied = 0;
  std::int64_t blocked = 0;
  std::int64_t reserved = 0;
  std::int64_t available = 0;
  friend bool operator==(const Totals&, const Totals&) = default;
};

struct Board {
  std::vector<CentreFigures> centres;
  std::map<Category, Totals> totals;
  Totals national;
  friend bool operator==(const Board&, const Board&) = default;
};

[[nodiscard]] PoolFigures pool_figures(const Ledger& ledger, const PoolSpec& spec, std::int64_t now_ms);
[[nodiscard]] Board derive_board(const Ledger& ledger, const BoardSpec& spec, std::int64_t now_ms);

}  // namespace placemesh
