// placemesh-compare: the same workload against placemesh and against the
// central stores an operator would pick instead (BENCHMARKS.md, "Against a
// central store"), measured side by side in one run on loopback:
//
//   write       six writers (one per centre; --writers), each one durable increment of
//               its own pools at a time: latency at the writer, p50/p99
//   visible     from a write's acknowledgement until HQ's reader, reading
//               the whole board every millisecond, first sees it: p50/p99
//   cut off     everything the last centre's writer depends on but its own
//               node is frozen (SIGSTOP: to the writer, packets that go
//               unanswered); can it still record an admission?
//
// Rounds alternate between the systems (the start order rotates) so that
// noise on a shared machine falls on all of them; figures are medians of
// the per-round percentiles.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <thread>

#include "net/identity.hpp"
#include "tools/lab/bench_common.hpp"
#include "tools/lab/compare/systems.hpp"

using namespace placemesh;
using namespace placemesh::compare;
using bench::Clock;
using bench::die;
using bench::kill_children_at_exit;
using bench::median;
using bench::micros;
using bench::percentile;

namespace {

constexpr auto poll_period = std::chrono::milliseconds(1);

struct Round {
  std::vector<double> write_us, visible_us, read_us;
  std::size_t visible_before_ack = 0;
};

Round run_round(System& system, std::size_t writer_count, int operations) {
  Round round;
  auto reader = system.reader();
  const auto base = reader->read();
  if (!base) die(system.name() + ": HQ's first read failed");
  const auto& all = centre_pools();
  const Pools centres(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(writer_count));
  // Per pool: the time each increment was acknowledged and first seen at HQ.
  std::map<std::string, std::vector<Clock::time_point>> acknowledged, seen;
  std::map<std::string, std::int64_t> target;
  for (std::size_t c = 0; c < centres.size(); ++c)
    for (int i = 0; i < operations; ++i) ++target[centres[c].second[static_cast<std::size_t>(i) % centres[c].second.size()]];
  for (const auto& [pool, count] : target) {
    acknowledged[pool].resize(static_cast<std::size_t>(count));
    seen[pool].reserve(static_cast<std::size_t>(count));
  }
  std::vector<std::vector<double>> latencies(centres.size());
  std::atomic<int> writing{static_cast<int>(centres.size())};
  // The first failure, as a literal, reported by this thread after the join.
  std::atomic<const char*> failed{nullptr};
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<Writer>> writers;
  for (std::size_t c = 0; c < centres.size(); ++c) writers.push_back(system.writer(c));
  for (std::size_t c = 0; c < centres.size(); ++c)
    threads.emplace_back([&, c] {
      const auto& pools = centres[c].second;
      std::map<std::string, std::int64_t> done;
      for (int i = 0; i < operations; ++i) {
        const std::string& pool = pools[static_cast<std::size_t>(i) % pools.size()];
        const std::int64_t k = done[pool]++;
        const auto start = Clock::now();
        if (failed) break;
        if (!writers[c]->increment(pool, base->at(pool) + k + 1)) {
          const char* none = nullptr;
          (void)failed.compare_exchange_strong(none, "an increment failed");
          break;
        }
        const auto end = Clock::now();
        latencies[c].push_back(micros(end - start));
        acknowledged.at(pool)[static_cast<std::size_t>(k)] = end;  // .at(): the map is shared, never changed
      }
      --writing;
    });
  // HQ reads the whole board every poll_period until it has seen every
  // increment (as fast as it can, it would take a core from the writers).
  const auto give_up = Clock::now() + std::chrono::seconds(60);
  auto next = Clock::now();
  for (bool complete = false; !complete;) {
    std::this_thread::sleep_until(next);
    next += poll_period;
    const auto start = Clock::now();
    const auto board = reader->read();
    const auto at = Clock::now();
    if (failed) break;
    if (!board) {
      const char* none = nullptr;
      (void)failed.compare_exchange_strong(none, "HQ's read failed");
      break;
    }
    round.read_us.push_back(micros(at - start));
    complete = writing == 0;
    for (const auto& [pool, count] : target) {
      auto& times = seen[pool];
      const std::int64_t now = std::min(board->at(pool) - base->at(pool), count);
      while (static_cast<std::int64_t>(times.size()) < now) times.push_back(at);
      complete = complete && static_cast<std::int64_t>(times.size()) == count;
    }
    if (at > give_up) {
      const char* none = nullptr;
      (void)failed.compare_exchange_strong(none, "HQ did not see every increment within 60 s");
      break;
    }
  }
  for (auto& thread : threads) thread.join();
  if (const char* why = failed.load()) die(system.name() + ": " + why);
  for (const auto& part : latencies) round.write_us.insert(round.write_us.end(), part.begin(), part.end());
  for (const auto& [pool, times] : seen)
    for (std::size_t k = 0; k < times.size(); ++k) {
      const double lag = micros(times[k] - acknowledged[pool][k]);
      if (lag < 0) ++round.visible_before_ack;
      round.visible_us.push_back(std::max(lag, 0.0));
    }
  return round;
}

std::string ms(double us) {
  char text[32];
  std::snprintf(text, sizeof text, us < 10'000 ? "%.2f" : "%.1f", us / 1000);
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"placemesh-compare — six writers and HQ against placemesh, etcd, Redis and PostgreSQL, side by side "
               "on loopback (BENCHMARKS.md)\n\n"
               "The servers are started here with their data under --dir and stopped at the end. "
               "tools/lab/compare/run.sh installs them, builds and runs this. Exit codes: 0 measured, 1 a system "
               "failed (the message says which and where its log is), 2 usage.\n\n"
               "Example:\n  placemesh-compare --dir /tmp/compare --rounds 5 --operations 100",
               "placemesh-compare"};
  std::filesystem::path dir = "var/compare";
  int rounds = 5, operations = 100, deadline_ms = 5'000, writers = 6;
  std::vector<std::string> only;
  app.add_option("--dir", dir, "work folder (created; the servers' data and logs); put it on the disk under test")
      ->capture_default_str();
  app.add_option("--rounds", rounds, "rounds; each runs every system once")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--operations", operations, "increments per writer per round")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  app.add_option("--writers", writers, "writers (centres, in DESIGN §1 order) writing at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 6));
  app.add_option("--cut-deadline-ms", deadline_ms, "how long a cut-off writer waits for an answer")
      ->capture_default_str()
      ->check(CLI::Range(100, 60'000));
  app.add_option("--only", only, "systems to run: placemesh, etcd, redis, postgres (default all)")
      ->delimiter(',')
      ->check(CLI::IsMember({"placemesh", "etcd", "redis", "postgres"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;  // --help is 0; any usage error is 2
  }
  kill_children_at_exit();
  if (!sodium_ready()) die("libsodium did not initialise");
  auto wanted = [&](const std::string& name) { return only.empty() || std::find(only.begin(), only.end(), name) != only.end(); };

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) die("cannot create " + dir.string() + ": " + ec.message());
  if (!std::filesystem::is_empty(dir)) die(dir.string() + " is not empty; give an empty or new --dir");
  ::chmod(dir.c_str(), 0711);  // PostgreSQL runs as its own user and must reach its folder
  bench::print_machine(dir);

  std::vector<std::unique_ptr<System>> systems;
  if (wanted("placemesh")) systems.push_back(start_placemesh(dir / "placemesh"));
  if (wanted("etcd")) systems.push_back(start_etcd(dir / "etcd"));
  if (wanted("redis")) systems.push_back(start_redis(dir / "redis"));
  if (wanted("postgres")) systems.push_back(start_postgres(dir / "postgres"));

  struct Summary {
    std::vector<double> write_p50, write_p99, visible_p50, visible_p99, read_p50;
    std::size_t early = 0, samples = 0;
  };
  std::vector<Summary> summaries(systems.size());
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t i = 0; i < systems.size(); ++i) {
      const std::size_t s = (i + static_cast<std::size_t>(r)) % systems.size();
      const Round round = run_round(*systems[s], static_cast<std::size_t>(writers), operations);
      Summary& summary = summaries[s];
      summary.write_p50.push_back(percentile(round.write_us, 0.5));
      summary.write_p99.push_back(percentile(round.write_us, 0.99));
      summary.visible_p50.push_back(percentile(round.visible_us, 0.5));
      summary.visible_p99.push_back(percentile(round.visible_us, 0.99));
      summary.read_p50.push_back(percentile(round.read_us, 0.5));
      summary.early += round.visible_before_ack;
      summary.samples += round.visible_us.size();
    }
    std::fprintf(stderr, "round %d of %d done\n", r + 1, rounds);
  }
  std::vector<CutOff> cuts;
  for (auto& system : systems) cuts.push_back(system->cut_off(std::chrono::milliseconds(deadline_ms)));

  std::printf("%d writer%s (one per centre, one request at a time), %d increments each per round, %d rounds; HQ reads "
              "the whole board every %lld ms; milliseconds, medians of the per-round percentiles.\n\n",
              writers, writers == 1 ? "" : "s", operations, rounds, static_cast<long long>(poll_period.count()));
  std::printf("| system | write p50 | write p99 | visible at HQ p50 | visible at HQ p99 | one HQ read p50 | "
              "a writer cut off from the others records an admission? |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---|\n");
  for (std::size_t s = 0; s < systems.size(); ++s) {
    const auto& summary = summaries[s];
    const auto& cut = cuts[s];
    std::string cut_text = cut.recorded ? "**yes**, in " + ms(cut.answer_ms * 1000) + " ms" : "**no**: " + cut.said;
    if (!cut.recorded) cut_text += " after " + ms(cut.answer_ms * 1000) + " ms";
    if (cut.at_hq_ms) cut_text += "; at HQ " + ms(*cut.at_hq_ms * 1000) + " ms after the others were back";
    std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", systems[s]->name().c_str(), ms(median(summary.write_p50)).c_str(),
                ms(median(summary.write_p99)).c_str(), ms(median(summary.visible_p50)).c_str(),
                ms(median(summary.visible_p99)).c_str(), ms(median(summary.read_p50)).c_str(), cut_text.c_str());
  }
  std::printf("\nSetups:\n");
  for (std::size_t s = 0; s < systems.size(); ++s) {
    std::printf("- %s: %s", systems[s]->name().c_str(), systems[s]->setup().c_str());
    if (const auto work = systems[s]->work_done(summaries[s].samples); !work.empty()) std::printf("; %s", work.c_str());
    if (summaries[s].early > 0)
      std::printf(" (%zu of %zu increments were visible at HQ before their writer had the answer)", summaries[s].early,
                  summaries[s].samples);
    std::printf(".\n");
  }
  return 0;
}
