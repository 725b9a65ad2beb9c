#pragma once
// The one error table of placemesh (STYLE 7): an X-macro so that the enum and
// its default messages cannot drift apart. Add a code only when some caller
// reacts to it differently from the existing ones; put the specifics (values,
// names, what to do) in Error::detail.

#include <cstdint>
#include <string_view>

#define PLACEMESH_ERRORS(X)                                                                 \
  X(count_out_of_range, "count is out of range")                                            \
  X(total_overflow, "cumulative total would exceed its limit")                              \
  X(nothing_to_remove, "more removed than recorded")                                        \
  X(invalid_key, "key is malformed")                                                        \
  X(invalid_value, "value does not fit its key")                                            \
  X(invalid_record, "record is malformed")                                                  \
  X(equivocation, "origin signed two different records with one sequence number")           \
  X(clock_skew, "remote clock is too far ahead")                                            \
  X(no_rights_here, "no reservation rights for this pool on this node")                     \
  X(rights_held_elsewhere, "reservation rights for this pool are held by another node")      \
  X(unknown_reservation, "no such reservation")                                             \
  X(reservation_exists, "reservation id already used")                                      \
  X(reservation_closed, "reservation is no longer held")                                    \
  X(malformed, "input is malformed")                                                        \
  X(store_full, "the store is full; the node is read-only")                                 \
  X(store_failed, "the store failed")                                                       \
  X(wrong_node, "the data directory belongs to another node")                              \
  X(bad_config, "the configuration is invalid")                                             \
  X(roster_too_far_ahead, "the roster's version is too far past the installed one")        \
  X(bad_key_file, "the key file is unusable")                                               \
  X(unauthorized, "missing or unknown bearer token")                                        \
  X(forbidden, "this token may not do that")                                                \
  X(not_owner, "not the owner")                                                             \
  X(unknown_pool, "no such pool in the roster")                                             \
  X(busy, "the node is busy; retry with the same op_id")                                     \
  X(op_id_reused, "this op_id was used for a different operation")                          \
  X(bad_signature, "the signature does not verify")                                       \
  X(quota_exceeded, "an origin's quota on this node is used up")                           \
  X(rate_limited, "too many requests with this token; retry after the time given")

namespace placemesh {

enum class Code : std::uint16_t {
#define PLACEMESH_ERROR_ENUM(name, message) name,
  PLACEMESH_ERRORS(PLACEMESH_ERROR_ENUM)
#undef PLACEMESH_ERROR_ENUM
};

[[nodiscard]] constexpr std::string_view code_name(Code code) {
  switch (code) {
#define PLACEMESH_ERROR_NAME(name, message) \
  case Code::name:                          \
    return #name;
    PLACEMESH_ERRORS(PLACEMESH_ERROR_NAME)
#undef PLACEMESH_ERROR_NAME
  }
  return "unknown";
}

[[nodiscard]] constexpr std::string_view code_message(Code code) {
  switch (code) {
#define PLACEMESH_ERROR_MESSAGE(name, message) \
  case Code::name:                             \
    return message;
    PLACEMESH_ERRORS(PLACEMESH_ERROR_MESSAGE)
#undef PLACEMESH_ERROR_MESSAGE
  }
  return "unknown error";
}

}  // namespace placemesh
