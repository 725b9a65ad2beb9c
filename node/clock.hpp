#pragma once
// placemeshd's two clocks (the simulator brings its own, through CoreSeams):
// wall time for what people read and records carry, a steady clock for
// intervals, silence and redials, which must not jump when the wall clock is
// stepped (NTP, a box without an RTC at boot).

#include <chrono>
#include <cstdint>

namespace placemesh {

inline std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace placemesh
