// placemesh-sim: the deterministic simulator from the command line (one
// seed, or a soak over many). See tests/sim/simulation.hpp.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>
#include <cstdio>
#include <unistd.h>

#include "net/identity.hpp"
#include "tests/sim/simulation.hpp"
#include "tests/sim/workload_space.hpp"

using namespace placemesh;

int main(int argc, char** argv) {
  CLI::App app{"placemesh-sim: runs the real replica and gossip code of N nodes over a simulated network with\n"
               "faults, checks safety throughout, heals, and checks that every node equals the oracle exactly.\n"
               "A failing run prints its seed and the command that replays it. Exit code 0 when every run\n"
               "converged, 1 when one failed, 2 for bad arguments."};
  app.footer(
      "Examples:\n"
      "  placemesh-sim                                   # 7 nodes (HQ + six centres), seed 1, no faults\n"
      "  placemesh-sim --nodes 7 --seed 3 --faults all   # loss, duplication, delay, partitions, crashes, wipes\n"
      "  placemesh-sim --nodes 100 --degree 6 --faults loss=0.2,delay=1-300,partitions\n"
      "  placemesh-sim --seeds 200 --faults all          # a soak: seeds 1..200, stops at the first failure\n"
      "  placemesh-sim --vary --seed 1000 --seeds 500 --keep-going  # each seed draws its own workload\n"
      "Faults: none | all | a comma list of loss=P, dup=P, delay=MIN-MAX (ms), partitions,\n"
      "        crashes[=MIN-MAX] (ms between two crashes; 4000-12000), wipes[=SHARE] (of the crashes; 0.3).\n"
      "--vary draws, per seed: " + sim::workload_space() + ".\n"
      "A failure prints the drawn options in full: its replay line needs no --vary.");
  sim::Options options;
  std::string faults = "none";
  std::uint64_t seeds = 1;
  double chaos_s = 60, heal_s = 180, heartbeat_s = 5;
  bool verbose = false, vary = false, keep_going = false;
  app.add_option("--nodes", options.nodes, "nodes: HQ and N-1 centres (7 uses the quickstart's centres)")
      ->check(CLI::Range(2, 2000))
      ->capture_default_str();
  app.add_option("--seed", options.seed, "the first seed")->capture_default_str();
  app.add_option("--seeds", seeds, "how many seeds to run, from --seed on")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--ops", options.operations, "operations at random centres during the chaos")->capture_default_str();
  app.add_option("--chaos-s", chaos_s, "simulated seconds of operations and faults")->capture_default_str();
  app.add_option("--heal-s", heal_s, "simulated seconds allowed to converge after healing")->capture_default_str();
  app.add_option("--heartbeat-s", heartbeat_s, "simulated seconds between a node's heartbeats")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--sync-ms", options.sync_interval_ms, "the anti-entropy interval")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--degree", options.degree, "links per node (a ring plus random chords); 0 = full mesh")
      ->capture_default_str();
  app.add_option("--faults", faults, "what goes wrong (see below)")->capture_default_str();
  app.add_flag("--roster-changes", options.roster_changes,
               "during the chaos the admin pushes a newer roster to one node, then one that revokes a centre");
  app.add_option("--dir", options.dir, "where the nodes' LMDB files go (default: a new folder in /tmp, removed)");
  app.add_flag("--vary", vary,
               "each seed draws its own workload (nodes, mesh, operations, chaos, faults and their rates); "
               "--nodes, --ops, --chaos-s, --heartbeat-s, --degree and --faults are then ignored");
  app.add_flag("--keep-going", keep_going, "a soak goes on after a failure and lists the failed seeds at the end");
  app.add_flag("-v,--verbose", verbose, "the replica's own logs");
  CLI11_PARSE(app, argc, argv);

  std::string error;
  if (!sim::parse_faults(faults, options.faults, error)) {
    std::fprintf(stderr, "placemesh-sim: --faults: %s\n", error.c_str());
    return 2;
  }
  if (options.degree == 0 && options.nodes > 12) options.degree = 6;  // a full mesh of hundreds is not the point
  options.chaos_ms = static_cast<std::int64_t>(chaos_s * 1000);
  options.heal_deadline_ms = static_cast<std::int64_t>(heal_s * 1000);
  options.heartbeat_interval_ms = static_cast<std::int64_t>(heartbeat_s * 1000);
  spdlog::set_level(verbose ? spdlog::level::info : spdlog::level::off);
  if (!sodium_ready()) {
    std::fprintf(stderr, "placemesh-sim: libsodium failed to initialise\n");
    return 1;
  }
  const bool own_dir = options.dir.empty();
  const std::uint64_t first = options.seed;
  std::vector<std::uint64_t> failed;
  std::uint64_t ran = 0, slowest_seed = 0;
  std::int64_t slowest_ms = -1;
  for (std::uint64_t seed = first; seed < first + seeds; ++seed) {
    options.seed = seed;
    if (own_dir) options.dir = std::filesystem::temp_directory_path() / ("placemesh-sim-" + std::to_string(::getpid()));
    const sim::Options run_options = vary ? sim::draw_workload(seed, options) : options;
    const auto started = std::chrono::steady_clock::now();
    const sim::Report report = sim::run(run_options);
    const auto wall_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    std::printf("seed %llu: %s (%lld ms of wall time)\n", static_cast<unsigned long long>(seed),
                sim::summary(report).c_str(), static_cast<long long>(wall_ms));
    std::fflush(stdout);
    ++ran;
    if (report.converge_ms > slowest_ms) {
      slowest_ms = report.converge_ms;
      slowest_seed = seed;
    }
    if (!report.ok) {
      failed.push_back(seed);
      if (!keep_going) break;
    }
  }
  if (seeds > 1) {
    std::printf("%llu seeds from %llu%s: %llu converged, %zu failed", static_cast<unsigned long long>(ran),
                static_cast<unsigned long long>(first), vary ? " (--vary)" : "",
                static_cast<unsigned long long>(ran - failed.size()), failed.size());
    for (std::size_t i = 0; i < failed.size(); ++i)
      std::printf("%s%llu", i == 0 ? " (seeds " : ", ", static_cast<unsigned long long>(failed[i]));
    if (!failed.empty()) std::printf(")");
    if (slowest_ms >= 0)
      std::printf("; slowest convergence %lld ms after healing (seed %llu)", static_cast<long long>(slowest_ms),
                  static_cast<unsigned long long>(slowest_seed));
    std::printf("\n");
  }
  return failed.empty() ? 0 : 1;
}
