#pragma once
// The fault campaign's frame (its report: docs/reliability.md):
// the cluster, one writer per centre, the checker, and a step runner that
// records what held for the report.
//
// A step applies its fault while every running centre records operations,
// heals it, then the runner quiesces the writers and waits until all seven
// boards equal the oracle exactly: that wait is the step's convergence time.
// Then no node may go on reporting a linked peer behind on any origin.
//
// Thread contract: the campaign's own thread only (the writers have theirs).

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/faults/cluster.hpp"
#include "tests/faults/victim_watch.hpp"
#include "tests/faults/workload.hpp"

namespace placemesh::faults {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct StepResult {
  int number = 0;
  std::string fault;
  std::vector<std::string> held;    // what was checked and held, with figures
  std::vector<std::string> failed;  // what was checked and did not hold
  // What the final equality with the oracle shows for this step: reported
  // as held only if the boards did converge.
  std::vector<std::string> if_converged;
  std::vector<std::string> noted;  // observations, not checks
  std::optional<double> converged_ms;
  // Set by steps that wait for the oracle while their fault is still on.
  std::optional<double> under_fault_ms;
  std::uint64_t acknowledged = 0, retried = 0, replays_checked = 0;
  // For an attack: what the attacker sent and how fast, what the victim
  // refused and counted, and how the victim fared (tests/faults/victim_watch).
  struct Attack {
    std::string victim, attacker, refused;
    VictimFigures figures;
  };
  std::optional<Attack> attack;

  void check(bool ok, const std::string& what, const std::string& otherwise) {
    (ok ? held : failed).push_back(ok ? what : otherwise);
  }
};

struct Timing {
  milliseconds fault{10'000};    // how long most faults last
  milliseconds freeze{60'000};   // SIGSTOP
  milliseconds converge{60'000}; // deadline for the boards to equal the oracle
};

class Campaign {
 public:
  // `only`: the numbers of the steps to run (all when empty).
  Campaign(Cluster& cluster, Timing timing, std::uint32_t seed, std::set<int> only = {});
  ~Campaign();

  // Runs one step: `fault` applies and heals (the writers running), then
  // the boards must equal the oracle. Steps are numbered from 0 in order.
  void step(const std::string& fault, const std::function<void(StepResult&)>& body);
  [[nodiscard]] const std::vector<StepResult>& results() const { return results_; }

  // The oracle of every writer, summed per pool.
  [[nodiscard]] Oracle oracle() const;
  // What differs between `node`'s board and `oracle` ("" when nothing); only
  // the pools whose id starts with `only` when given.
  [[nodiscard]] std::string differences(const std::string& node, const Oracle& oracle,
                                        const std::string& only = "") const;
  // Waits until every board equals the oracle; the time it took, or nullopt.
  [[nodiscard]] std::optional<double> converge(milliseconds deadline, const std::string& only = "");
  [[nodiscard]] const std::string& last_differences() const { return last_; }
  // Waits until every node's linked peers are level with it on every origin
  // it knows, or behind for no longer than `lag_max` (a heartbeat in
  // flight). Equal boards can hide unequal knowledge: a seq known to some
  // nodes only, that they report as missing at the others for ever (issue
  // 13). The time it took, or nullopt (then last_differences() says who).
  [[nodiscard]] std::optional<double> knowledge_agrees(milliseconds deadline, milliseconds lag_max);

  // Quiesces every writer (throws when one cannot finish its operation
  // within the convergence deadline: its node is down for good).
  void pause_all();
  void pause(const std::string& centre);
  void resume_all();
  Writer& writer(const std::string& centre) { return *writers_.at(centre); }
  // Extra writers (admissions only) for one centre, e.g. to fill its disk.
  void add_fillers(const std::string& centre, int count, double rate);
  // Stops them; what they did (their acknowledged admissions stay in the oracle).
  WriterStats remove_fillers();
  // A fault's duration, with the workload running (not a wait for a condition).
  static void hold(milliseconds duration);

  Cluster& cluster() { return cluster_; }
  [[nodiscard]] const Timing& timing() const { return timing_; }
  [[nodiscard]] std::uint32_t seed() const { return seed_; }

 private:
  Cluster& cluster_;
  Timing timing_;
  std::uint32_t seed_;
  std::map<std::string, std::unique_ptr<Writer>> writers_;
  std::vector<std::unique_ptr<Writer>> fillers_;
  std::size_t fillers_made_ = 0;  // names and seeds of fillers are never reused in a run
  std::vector<Oracle> retired_;  // fillers' oracles, after they stopped
  std::vector<StepResult> results_;
  std::set<int> only_;
  int next_step_ = 0;
  std::string last_;
};

// Thrown out of hold() and await() once interrupt() was called (SIGINT or
// SIGTERM): not a std::exception, so a step does not record it as a
// failure, and the campaign unwinds to stop its nodes and remove its
// namespaces.
struct Interrupted {};
// Async-signal-safe: only sets a lock-free atomic flag.
void interrupt();
void throw_if_interrupted();

// Polls `check` every 20 ms until it holds or the deadline passes; the time
// it took, or nullopt.
[[nodiscard]] std::optional<double> await(const std::function<bool()>& check, milliseconds deadline);

}  // namespace placemesh::faults
