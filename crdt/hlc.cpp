#include "crdt/hlc.hpp"

#include <algorithm>

#include "crdt/limits.hpp"

namespace placemesh {

std::string to_string(const Hlc& hlc) {
  return std::to_string(hlc.wall_ms) + "." + std::to_string(hlc.logical);
}

namespace {

// The successor of `base` that is at least `physical_ms`.
Hlc advance(const Hlc& base, std::int64_t physical_ms) {
  if (physical_ms > base.wall_ms) return Hlc{physical_ms, 0};
  if (base.logical < limits::hlc_logical_max) return Hlc{base.wall_ms, base.logical + 1};
  // The logical counter is full: borrow one millisecond from the future
  // rather than wrapping, which would run the clock backwards.
  return Hlc{base.wall_ms + 1, 0};
}

}  // namespace

Hlc HlcClock::tick(std::int64_t physical_ms) {
  const Hlc next = advance(last_, physical_ms);
  PM_ASSERT(next > last_, to_string(next), to_string(last_));
  last_ = next;
  return next;
}

Status HlcClock::observe(const Hlc& remote, std::int64_t physical_ms) {
  if (remote.wall_ms > physical_ms + limits::clock_skew_max_ms) {
    return make_error(Code::clock_skew,
                      "remote time " + std::to_string(remote.wall_ms) + " ms is " +
                          std::to_string(remote.wall_ms - physical_ms) +
                          " ms ahead of ours; check NTP on both nodes");
  }
  last_ = std::max(last_, remote);
  return Ok{};
}

}  // namespace placemesh
