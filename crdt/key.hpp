#pragma once
// What a record is about (DESIGN §3.2): a field of a pool, plus an argument
// where the field needs one.
//
//   field        pool        arg                   value kind
//   heartbeat    ""          ""                    Heartbeat
//   occupied     CENTRE/unit ""                    Counter  (p admissions, n releases)
//   blocked      CENTRE/unit reason                Counter  (p blocked, n unblocked)
//   operational  CENTRE/unit ""                    Register (usable places)
//   rights       CENTRE/unit to-origin             Counter  (R[me][to], p only)
//   used         CENTRE/unit ""                    Counter  (U[me], p only)
//   reservation  CENTRE/unit reservation id        Reservation
//
// Keys order by (field, pool, arg), so all keys of one field of one pool are
// adjacent in an ordered map.

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/origin.hpp"
#include "crdt/result.hpp"

namespace placemesh {

enum class Field : std::uint8_t {
  heartbeat = 0,
  occupied = 1,
  blocked = 2,
  operational = 3,
  rights = 4,
  used = 5,
  reservation = 6,
};
inline constexpr std::uint8_t field_max = 6;

// Coarse reasons only: free text could single a person out (DESIGN §1).
inline constexpr std::array<std::string_view, 5> blocked_reasons = {
    "maintenance", "damage", "staffing", "medical", "other"};

struct Key {
  Field field = Field::heartbeat;
  std::string pool;  // "CENTRE/unit", empty for heartbeat
  std::string arg;

  friend auto operator<=>(const Key&, const Key&) = default;
  friend bool operator==(const Key&, const Key&) = default;
};

[[nodiscard]] std::string_view field_name(Field field);
[[nodiscard]] std::optional<Field> field_from_name(std::string_view name);
// "occupied CIM/men", "blocked CIM/men maintenance", "heartbeat"
[[nodiscard]] std::string to_string(const Key& key);

[[nodiscard]] bool is_valid_pool_id(std::string_view pool);
[[nodiscard]] bool is_blocked_reason(std::string_view reason);
// Checks the pool id and that arg is present exactly where the field needs one.
[[nodiscard]] Status validate(const Key& key);

[[nodiscard]] Key heartbeat_key();
[[nodiscard]] Key occupied_key(std::string_view pool);
[[nodiscard]] Key blocked_key(std::string_view pool, std::string_view reason);
[[nodiscard]] Key operational_key(std::string_view pool);
[[nodiscard]] Key used_key(std::string_view pool);
[[nodiscard]] Key rights_key(std::string_view pool, const Origin& to);
[[nodiscard]] Key reservation_key(std::string_view pool, std::string_view id);

}  // namespace placemesh
