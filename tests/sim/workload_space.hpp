#pragma once
// The space a soak explores (issue 13): one seed draws a whole workload —
// network size and shape, operations, chaos length, faults and their rates —
// so that a soak over many seeds covers far more than one fixed workload,
// and any failure still replays from the options it prints (the drawn values
// are printed in full, so the replay needs no drawing).
//
// The ranges are in workload_space.cpp and in docs/simulator.md; change
// both together. A value, no state: the same seed always draws the same
// options.

#include <cstdint>
#include <string>

#include "tests/sim/simulation.hpp"

namespace placemesh::sim {

// The options of seed `seed`; `base` gives what is not drawn (the data
// directory, the heal deadline, the idle time).
[[nodiscard]] Options draw_workload(std::uint64_t seed, const Options& base);

// The ranges draw_workload draws from, for --help and the soak's report.
[[nodiscard]] std::string workload_space();

}  // namespace placemesh::sim
