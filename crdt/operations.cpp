#include "crdt/operations.hpp"

#include "crdt/limits.hpp"
#include "crdt/rights.hpp"

namespace placemesh {

namespace {

Counter own_counter(const Writer& writer, const Ledger& ledger, const Key& key) {
  const Record* record = ledger.find(writer.origin(), key);
  return record == nullptr ? Counter{} : std::get<Counter>(record->value);
}

Status check_pool(std::string_view pool) {
  if (!is_valid_pool_id(pool))
    return make_error(Code::invalid_key,
                      "pool id '" + std::string(pool) + "' is not of the form CENTRE/unit");
  return Ok{};
}

Status check_headroom(std::uint64_t total, std::int64_t count, const Key& key) {
  if (total + static_cast<std::uint64_t>(count) > limits::cumulative_total_max)
    return make_error(Code::total_overflow, to_string(key) + " total " + std::to_string(total) + " + " +
                                                std::to_string(count) + " exceeds " +
                                                std::to_string(limits::cumulative_total_max));
  return Ok{};
}

// Adds `count` to this origin's p (grow) or n (shrink) of a counter key.
Result<Records> bump(Writer& writer, const Ledger& ledger, Key key, std::int64_t count, bool grow,
                     std::int64_t now_ms) {
  if (auto status = check_count(count); !status) return status.error();
  if (auto status = validate(key); !status) return status.error();
  Counter counter = own_counter(writer, ledger, key);
  std::uint64_t& side = grow ? counter.p : counter.n;
  if (auto status = check_headroom(side, count, key); !status) return status.error();
  side += static_cast<std::uint64_t>(count);
  return Records{writer.make(std::move(key), counter, now_ms)};
}

// Refuses to remove more than the visible total (Σp − Σn over all origins).
Status check_removable(const Ledger& ledger, const Key& key, std::int64_t count, std::string_view what) {
  const Counter total = ledger.counter_total(key);
  const auto visible = static_cast<std::int64_t>(total.p) - static_cast<std::int64_t>(total.n);
  if (visible < count)
    return make_error(Code::nothing_to_remove, key.pool + " has " + std::to_string(visible) + " " +
                                                   std::string(what) + "; cannot remove " +
                                                   std::to_string(count));
  return Ok{};
}

// This node's own view of the reservation, if it wrote one.
const Reservation* own_view(const Writer& writer, const Ledger& ledger, const Key& key) {
  const Record* mine = ledger.find(writer.origin(), key);
  return mine == nullptr ? nullptr : &std::get<Reservation>(mine->value);
}

Result<Records> close_reservation(Writer& writer, const Ledger& ledger, std::string_view pool,
                                  std::string_view id, ReservationState to, std::int64_t now_ms) {
  if (auto status = check_pool(pool); !status) return status.error();
  Key key = reservation_key(pool, id);
  if (auto status = validate(key); !status) return status.error();
  auto current = ledger.reservation(key);
  if (!current) return make_error(Code::unknown_reservation, "no reservation '" + std::string(id) + "' in " + std::string(pool));
  // Only the node that wrote the hold spent rights for it, and only its own
  // count: ids chosen concurrently on two nodes may collide.
  const Reservation* mine = own_view(writer, ledger, key);
  const bool holder = mine != nullptr && mine->state == ReservationState::held;
  if (current->state != ReservationState::held) {
    // Closed by another node. The holder still takes its rights back unless
    // the person arrived; everyone else is told it is closed.
    if (!holder || to == ReservationState::confirmed || current->state == ReservationState::confirmed)
      return make_error(Code::reservation_closed, "reservation '" + std::string(id) + "' is already " +
                                                      std::string(state_name(current->state)));
  }
  Reservation closed = *current;
  closed.state = std::max(current->state, to);
  // The record that can be refused (a total at its limit) is made first, so
  // a refusal consumes no seq.
  Records records;
  if (to == ReservationState::confirmed) {
    auto admitted = bump(writer, ledger, occupied_key(pool), closed.count, true, now_ms);
    if (!admitted) return admitted.error();
    records = std::move(admitted.value());
  } else if (holder) {
    auto returned = bump(writer, ledger, rights_key(pool, writer.origin()), mine->count, true, now_ms);
    if (!returned) return returned.error();
    records = std::move(returned.value());
  }
  records.push_back(writer.make(std::move(key), std::move(closed), now_ms));
  return records;
}

}  // namespace

Status check_count(std::int64_t count) {
  if (count < 1 || count > limits::operation_count_max)
    return make_error(Code::count_out_of_range, "count " + std::to_string(count) + " is outside 1.." +
                                                    std::to_string(limits::operation_count_max));
  return Ok{};
}

Result<Records> admit(Writer& writer, const Ledger& ledger, std::string_view pool, std::int64_t count,
                      std::int64_t now_ms) {
  return bump(writer, ledger, occupied_key(pool), count, true, now_ms);
}

Result<Records> release(Writer& writer, const Ledger& ledger, std::string_view pool, std::int64_t count,
                        std::int64_t now_ms) {
  if (auto status = check_count(count); !status) return status.error();
  if (auto status = check_pool(pool); !status) return status.error();
  if (auto status = check_removable(ledger, occupied_key(pool), count, "occupied"); !status)
    return status.error();
  return bump(writer, ledger, occupied_key(pool), count, false, now_ms);
}

Result<Records> block(Writer& writer, const Ledger& ledger, std::string_view pool, std::string_view reason,
                      std::int64_t count, std::int64_t now_ms) {
  return bump(writer, ledger, blocked_key(pool, reason), count, true, now_ms);
}

Result<Records> unblock(Writer& writer, const Ledger& ledger, std::string_view pool, std::string_view reason,
                        std::int64_t count, std::int64_t now_ms) {
  Key key = blocked_key(pool, reason);
  if (auto status = check_count(count); !status) return status.error();
  if (auto status = validate(key); !status) return status.error();
  if (auto status = check_removable(ledger, key, count, "blocked for " + std::string(reason)); !status)
    return status.error();
  return bump(writer, ledger, std::move(key), count, false, now_ms);
}

Result<Records> set_operational(Writer& writer, const Ledger&, std::string_view pool, std::int64_t value,
                                std::int64_t now_ms) {
  if (auto status = check_pool(pool); !status) return status.error();
  if (value < 0 || value > limits::pool_places_max)
    return make_error(Code::count_out_of_range, "operational capacity " + std::to_string(value) +
                                                    " is outside 0.." + std::to_string(limits::pool_places_max));
  return Records{writer.make(operational_key(pool), Register{value}, now_ms)};
}

Result<Records> create_rights(Writer& writer, const Ledger& ledger, std::string_view pool, std::int64_t count,
                              std::int64_t now_ms) {
  if (auto status = check_pool(pool); !status) return status.error();
  return bump(writer, ledger, rights_key(pool, writer.origin()), count, true, now_ms);
}

Result<Records> transfer_rights(Writer& writer, const Ledger& ledger, std::string_view pool, const Origin& to,
                                std::int64_t count, std::int64_t now_ms) {
  if (auto status = check_count(count); !status) return status.error();
  if (auto status = check_pool(pool); !status) return status.error();
  PM_REQUIRE(to != writer.origin(), "transfer to self");
  const std::int64_t here = rights_at(ledger, pool, writer.origin());
  if (here < count)
    return make_error(Code::no_rights_here, std::string(pool) + " has " + std::to_string(here) +
                                                " rights here; cannot transfer " + std::to_string(count));
  return bump(writer, ledger, rights_key(pool, to), count, true, now_ms);
}

Result<Records> reserve(Writer& writer, const Ledger& ledger, std::string_view pool, std::string_view id,
                        std::int64_t count, std::int64_t expires_at_ms, std::string_view reference,
                        std::int64_t now_ms) {
  if (auto status = check_count(count); !status) return status.error();
  if (auto status = check_pool(pool); !status) return status.error();
  Key key = reservation_key(pool, id);
  if (auto status = validate(key); !status) return status.error();
  if (ledger.reservation(key))
    return make_error(Code::reservation_exists, "reservation id '" + std::string(id) + "' is taken in " +
                                                    std::string(pool) + "; choose another");
  if (expires_at_ms <= now_ms || expires_at_ms > now_ms + limits::reservation_hold_max_ms)
    return make_error(Code::count_out_of_range, "expiry must be in the future and at most " +
                                                    std::to_string(limits::reservation_hold_max_ms / 3'600'000) +
                                                    " h ahead");
  Reservation hold{ReservationState::held, static_cast<std::uint32_t>(count), expires_at_ms,
                   std::string(reference)};
  if (auto status = validate(key, hold); !status) return status.error();

  const std::int64_t here = rights_at(ledger, pool, writer.origin());
  if (here < count) {
    for (const auto& holding : rights_by_origin(ledger, pool)) {
      if (holding.origin == writer.origin() || holding.rights <= 0) continue;
      return make_error(Code::rights_held_elsewhere,
                        std::string(pool) + " has " + std::to_string(here) + " rights here, " +
                            std::to_string(holding.rights) + " held at " + to_string(holding.origin));
    }
    return make_error(Code::no_rights_here, std::string(pool) + " has " + std::to_string(here) +
                                                " rights here and none elsewhere");
  }
  auto spent = bump(writer, ledger, used_key(pool), count, true, now_ms);
  if (!spent) return spent.error();
  Records records = std::move(spent.value());
  records.push_back(writer.make(std::move(key), std::move(hold), now_ms));
  return records;
}

Result<Records> cancel(Writer& writer, const Ledger& ledger, std::string_view pool, std::string_view id,
                       std::int64_t now_ms) {
  return close_reservation(writer, ledger, pool, id, ReservationState::cancelled, now_ms);
}

Result<Records> expire(Writer& writer, const Ledger& ledger, std::string_view pool, std::string_view id,
                       std::int64_t now_ms) {
  return close_reservation(writer, ledger, pool, id, ReservationState::expired, now_ms);
}

Result<Records> confirm(Writer& writer, const Ledger& ledger, std::string_view pool, std::string_view id,
                        std::int64_t now_ms) {
  return close_reservation(writer, ledger, pool, id, ReservationState::confirmed, now_ms);
}

Record heartbeat(Writer& writer, std::int64_t now_ms) { return writer.make(heartbeat_key(), Heartbeat{}, now_ms); }

}  // namespace placemesh
