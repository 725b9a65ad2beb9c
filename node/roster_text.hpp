#pragma once
// A roster written as the TOML that node/roster.cpp reads (node/ROSTER.md),
// for programs that build rosters (the simulator; sign the result with
// sign_roster). parse_roster(format_roster(r)) gives r back.

#include <string>

#include "node/roster.hpp"

namespace placemesh {

[[nodiscard]] std::string format_roster(const Roster& roster);

}  // namespace placemesh
