#include "tests/sim/workload_space.hpp"

#include <algorithm>
#include <random>

namespace placemesh::sim {

namespace {

// Values are drawn on coarse grids (whole seconds, hundredths) so the replay
// line, which prints them with six significant digits, says them exactly.
class Draw {
 public:
  explicit Draw(std::uint64_t seed) : rng_(seed ^ 0x9E3779B97F4A7C15ULL) {}
  std::int64_t integer(std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(rng_);
  }
  bool chance(int percent) { return integer(0, 99) < percent; }
  double hundredths(int low, int high) { return static_cast<double>(integer(low, high)) / 100.0; }

 private:
  std::mt19937_64 rng_;
};

}  // namespace

Options draw_workload(std::uint64_t seed, const Options& base) {
  Draw draw(seed);
  Options options = base;
  options.seed = seed;
  // Size and shape: mostly the real network (HQ + six centres), sometimes
  // smaller or larger; partial meshes at every size.
  const auto size = draw.integer(0, 99);
  options.nodes = static_cast<std::size_t>(size < 60 ? 7 : size < 90 ? draw.integer(3, 12) : draw.integer(13, 24));
  const bool partial = options.nodes > 12 || (options.nodes > 4 && draw.chance(35));
  options.degree = partial ? static_cast<std::size_t>(draw.integer(3, std::min<std::int64_t>(6, static_cast<std::int64_t>(options.nodes) - 2))) : 0;
  // Workload.
  options.operations = static_cast<std::size_t>(draw.integer(50, 1'500));
  options.chaos_ms = draw.integer(20, 120) * 1'000;
  options.heartbeat_interval_ms = draw.integer(1, 10) * 1'000;
  // Faults, each present or not, at a drawn rate.
  Faults& faults = options.faults;
  faults = Faults{};
  faults.loss = draw.chance(80) ? draw.hundredths(1, 30) : 0;
  faults.duplicate = draw.chance(60) ? draw.hundredths(1, 10) : 0;
  faults.delay_min_ms = draw.integer(1, 20);
  faults.delay_max_ms = faults.delay_min_ms + (draw.chance(70) ? draw.integer(0, 400) : 0);
  faults.partitions = draw.chance(70);
  faults.crashes = draw.chance(85);
  if (faults.crashes) {
    faults.crash_every_min_ms = draw.integer(1, 8) * 1'000;
    faults.crash_every_max_ms = faults.crash_every_min_ms + draw.integer(0, 12) * 1'000;
    faults.wipes = draw.chance(75);
    if (faults.wipes) faults.wipe_share = draw.hundredths(5, 80);
  }
  options.roster_changes = draw.chance(30);
  return options;
}

std::string workload_space() {
  return "nodes 7 (60 %), 3-12 (30 %) or 13-24 (10 %); a partial mesh of degree 3-6 always above 12 nodes and for "
         "35 % of networks of 5-12; 50-1,500 operations over 20-120 s of chaos; heartbeats every 1-10 s; loss 1-30 % "
         "(80 % of seeds), duplication 1-10 % (60 %), delay 1-20 ms plus 0-400 ms of spread (70 %); partitions "
         "(70 %); crashes every 1-8 s plus 0-12 s (85 %), of which 5-80 % wipe the disk (75 % of those seeds); a roster push and a revocation during the chaos (30 %)";
}

}  // namespace placemesh::sim
