#pragma once
// The values records carry (DESIGN §3.2) and their joins.
//
// Counter     an origin's cumulative (p, n) for one key: totals, never
//             increments, so a newer record simply replaces an older one.
// Register    a value whose visible state is the one with the largest
//             (hlc, origin) — the HLC lives in the record.
// Reservation a hold on places of one pool, in a small state lattice:
//             held < expired < cancelled < confirmed. The three ends are
//             ordered so that the join is a total order (a lattice): when a
//             person arrived (confirmed) that wins over a cancel, and an
//             explicit cancel wins over a timeout.
// Heartbeat   no payload; its record's HLC is the origin's as-of time.

#include <compare>
#include <cstdint>
#include <string>
#include <variant>

#include "crdt/key.hpp"
#include "crdt/result.hpp"

namespace placemesh {

struct Counter {
  std::uint64_t p = 0;
  std::uint64_t n = 0;
  friend auto operator<=>(const Counter&, const Counter&) = default;
  friend bool operator==(const Counter&, const Counter&) = default;
};

struct Register {
  std::int64_t value = 0;
  friend auto operator<=>(const Register&, const Register&) = default;
  friend bool operator==(const Register&, const Register&) = default;
};

enum class ReservationState : std::uint8_t { held = 0, expired = 1, cancelled = 2, confirmed = 3 };
inline constexpr std::uint8_t reservation_state_max = 3;
[[nodiscard]] std::string_view state_name(ReservationState state);

struct Reservation {
  ReservationState state = ReservationState::held;
  std::uint32_t count = 1;          // places held
  std::int64_t expires_at_ms = 0;   // set by the creator
  std::string reference;            // opaque, chosen by the caller, ≤ 64 bytes
  friend auto operator<=>(const Reservation&, const Reservation&) = default;
  friend bool operator==(const Reservation&, const Reservation&) = default;
};

// The join of two views of one reservation: the larger state wins; equal
// states tie-break on the other fields so the result is deterministic.
[[nodiscard]] const Reservation& join(const Reservation& a, const Reservation& b);

struct Heartbeat {
  friend auto operator<=>(const Heartbeat&, const Heartbeat&) = default;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

using Value = std::variant<Counter, Register, Reservation, Heartbeat>;

// Checks that the value is of the kind the key's field takes and within the
// limits (totals, capacities, counts, reference length).
[[nodiscard]] Status validate(const Key& key, const Value& value);

}  // namespace placemesh
