// The deterministic simulator in CI: a fixed set of seeds at 7 nodes (the
// quickstart network, full mesh) and at 100 nodes (a partial mesh), with
// every fault. A failure prints its seed and the command that replays it.
#include <catch2/catch.hpp>

#include "net/identity.hpp"
#include "tests/sim/simulation.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;

namespace {

sim::Options options(std::size_t nodes, std::uint64_t seed, const std::string& faults) {
  sim::Options options;
  options.nodes = nodes;
  options.seed = seed;
  options.dir = test::make_temp_dir("sim");
  std::string error;
  REQUIRE(sim::parse_faults(faults, options.faults, error));
  return options;
}

// Runs and removes the run's temporary folder.
sim::Report run_once(const sim::Options& options) {
  auto report = sim::run(options);
  std::error_code ignored;
  std::filesystem::remove_all(options.dir.parent_path(), ignored);
  return report;
}

void expect_converged(const sim::Options& options) {
  const sim::Report report = run_once(options);
  INFO(sim::summary(report));
  REQUIRE(report.ok);
  CHECK(report.acknowledged > 0);
  CHECK(report.converge_ms >= 0);
}

}  // namespace

TEST_CASE("sim: seven nodes converge exactly through loss, duplication, reordering, partitions, crashes and wipes") {
  REQUIRE(sodium_ready());
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    auto plan = options(7, seed, "all");
    expect_converged(plan);
  }
}

TEST_CASE("sim: the same seed replays the same run") {
  REQUIRE(sodium_ready());
  auto first = options(7, 42, "all");
  first.operations = 120;
  first.chaos_ms = 30'000;
  auto second = first;
  second.dir = test::make_temp_dir("sim-replay");
  const auto a = run_once(first), b = run_once(second);
  REQUIRE(a.ok);
  CHECK(a.messages == b.messages);
  CHECK(a.bytes == b.bytes);
  CHECK(a.acknowledged == b.acknowledged);
  CHECK(a.converge_ms == b.converge_ms);
  CHECK(a.crashes == b.crashes);
}

TEST_CASE("sim: a hundred nodes on a partial mesh converge exactly through every fault") {
  REQUIRE(sodium_ready());
  auto plan = options(100, 7, "all");
  plan.degree = 6;
  plan.operations = 200;
  plan.chaos_ms = 30'000;
  expect_converged(plan);
}

TEST_CASE("sim: the checker fails a run whose anti-entropy is switched off under loss") {
  // Without digests, lost pushes are never repaired: the run must fail, and
  // say how to replay it.
  REQUIRE(sodium_ready());
  auto plan = options(7, 5, "loss=0.3");
  plan.sync_interval_ms = 1'000'000'000;
  plan.heal_deadline_ms = 20'000;
  const auto report = run_once(plan);
  CHECK_FALSE(report.ok);
  CHECK_THAT(report.failure, Catch::Contains("seed 5") && Catch::Contains("not converged"));
  CHECK_THAT(sim::summary(report), Catch::Contains("replay: placemesh-sim --nodes 7 --seed 5"));
}
