#pragma once
// Hybrid logical clock (Kulkarni et al., 2014): timestamps that follow the
// wall clock where it is sane and never run backwards, so the "latest" value
// of a register and a centre's as-of time agree on every node.
//
// HlcClock is a value: the physical time is passed in by the caller (the node's
// clock, or the simulator's), never read here. Not thread-safe; owned by the
// replica on the io thread.

#include <compare>
#include <cstdint>
#include <string>

#include "crdt/result.hpp"

namespace placemesh {

struct Hlc {
  std::int64_t wall_ms = 0;     // milliseconds since the Unix epoch
  std::uint32_t logical = 0;    // orders events within one wall_ms

  friend auto operator<=>(const Hlc&, const Hlc&) = default;
  friend bool operator==(const Hlc&, const Hlc&) = default;
};

[[nodiscard]] std::string to_string(const Hlc& hlc);

class HlcClock {
 public:
  HlcClock() = default;
  explicit HlcClock(Hlc last) : last_(last) {}

  // A timestamp for a local event: greater than every timestamp this clock
  // has produced or observed.
  [[nodiscard]] Hlc tick(std::int64_t physical_ms);

  // Takes a remote timestamp into account. Refuses (clock_skew) a remote
  // timestamp more than limits::clock_skew_max_ms ahead of physical_ms, so one
  // node with a wrong clock cannot drag every other clock into the future.
  [[nodiscard]] Status observe(const Hlc& remote, std::int64_t physical_ms);

  [[nodiscard]] const Hlc& last() const { return last_; }

 private:
  Hlc last_{};
};

}  // namespace placemesh
