#include "crdt/value.hpp"

#include <array>

#include "crdt/limits.hpp"
#include "crdt/names.hpp"

namespace placemesh {

namespace {

constexpr std::array<std::string_view, reservation_state_max + 1> state_names = {"held", "expired", "cancelled",
                                                                                  "confirmed"};

}  // namespace

std::string_view state_name(ReservationState state) { return name_of(state_names, state); }

const Reservation& join(const Reservation& a, const Reservation& b) { return a < b ? b : a; }

namespace {

Status wrong_kind(const Key& key, std::string_view expected) {
  return make_error(Code::invalid_value, to_string(key) + " takes a " + std::string(expected) + " value");
}

}  // namespace

Status validate(const Key& key, const Value& value) {
  switch (key.field) {
    case Field::heartbeat:
      if (!std::holds_alternative<Heartbeat>(value)) return wrong_kind(key, "heartbeat");
      return Ok{};
    case Field::occupied:
    case Field::blocked:
    case Field::rights:
    case Field::used: {
      const auto* counter = std::get_if<Counter>(&value);
      if (counter == nullptr) return wrong_kind(key, "counter");
      if (counter->p > limits::cumulative_total_max || counter->n > limits::cumulative_total_max)
        return make_error(Code::total_overflow, to_string(key) + " total " + std::to_string(counter->p) +
                                                    "/" + std::to_string(counter->n) + " exceeds " +
                                                    std::to_string(limits::cumulative_total_max));
      // Rights and their use only grow (AntidoteDB's bounded counter).
      if ((key.field == Field::rights || key.field == Field::used) && counter->n != 0)
        return make_error(Code::invalid_value, to_string(key) + " only grows; n must be 0");
      return Ok{};
    }
    case Field::operational: {
      const auto* reg = std::get_if<Register>(&value);
      if (reg == nullptr) return wrong_kind(key, "register");
      if (reg->value < 0 || reg->value > limits::pool_places_max)
        return make_error(Code::count_out_of_range, "operational capacity " + std::to_string(reg->value) +
                                                        " is outside 0.." +
                                                        std::to_string(limits::pool_places_max));
      return Ok{};
    }
    case Field::reservation: {
      const auto* reservation = std::get_if<Reservation>(&value);
      if (reservation == nullptr) return wrong_kind(key, "reservation");
      if (static_cast<std::uint8_t>(reservation->state) > reservation_state_max)
        return make_error(Code::invalid_value, "unknown reservation state");
      if (reservation->count < 1 || reservation->count > limits::operation_count_max)
        return make_error(Code::count_out_of_range, "reservation of " + std::to_string(reservation->count) +
                                                        " places is outside 1.." +
                                                        std::to_string(limits::operation_count_max));
      if (reservation->reference.size() > limits::reservation_reference_bytes_max)
        return make_error(Code::invalid_value, "reservation reference is " +
                                                   std::to_string(reservation->reference.size()) +
                                                   " bytes; at most " +
                                                   std::to_string(limits::reservation_reference_bytes_max));
      return Ok{};
    }
  }
  return make_error(Code::invalid_key, "unknown field");
}

}  // namespace placemesh
