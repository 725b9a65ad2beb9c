#include "tests/faults/campaign.hpp"

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <thread>

namespace placemesh::faults {

namespace {

constexpr double writer_rate = 20;  // operations per second at each centre

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void add_into(Oracle& total, const Oracle& part, bool registers) {
  for (const auto& [pool, figures] : part) {
    auto [at, fresh] = total.try_emplace(pool, figures);
    if (fresh) continue;
    at->second.occupied += figures.occupied;
    at->second.blocked += figures.blocked;
    if (registers) at->second.operational = figures.operational;
  }
}

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler sets it");

}  // namespace

void interrupt() { interrupted = true; }

void throw_if_interrupted() {
  if (interrupted) throw Interrupted{};
}

std::optional<double> await(const std::function<bool()>& check, milliseconds deadline) {
  const auto start = Clock::now();
  for (;;) {
    throw_if_interrupted();
    if (check()) return ms_since(start);
    if (Clock::now() - start > deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

Campaign::Campaign(Cluster& cluster, Timing timing, std::uint32_t seed, std::set<int> only)
    : cluster_(cluster), timing_(timing), seed_(seed), only_(std::move(only)) {
  std::uint32_t n = 0;
  for (const auto& centre : cluster_.centres())
    writers_[centre] = std::make_unique<Writer>(centre, cluster_.pools_of(centre), cluster_.url(centre),
                                                cluster_.operator_token(centre), seed_ * 31 + ++n, writer_rate);
  pause_all();
}

Campaign::~Campaign() {
  (void)remove_fillers();
  for (auto& [centre, writer] : writers_) writer->stop(milliseconds(0));
}

Oracle Campaign::oracle() const {
  Oracle total;
  for (const auto& [centre, writer] : writers_) add_into(total, writer->oracle(), true);
  for (const auto& filler : fillers_) add_into(total, filler->oracle(), false);
  for (const auto& part : retired_) add_into(total, part, false);
  return total;
}

std::string Campaign::differences(const std::string& node, const Oracle& oracle, const std::string& only) const {
  const auto board = cluster_.board(node);
  if (!board) return node + ": /v1/board did not answer; ";
  std::string out;
  std::size_t seen = 0, expected = 0;
  for (const auto& [pool, figures] : oracle) expected += pool.starts_with(only) ? 1u : 0u;
  for (const auto& centre : (*board)["centres"])
    for (const auto& pool : centre["pools"]) {
      const std::string id = pool["id"];
      if (!id.starts_with(only)) continue;
      ++seen;
      const auto at = oracle.find(id);
      if (at == oracle.end()) {
        out += node + " shows " + id + ", which no writer knows; ";
        continue;
      }
      const Figures shown{pool["occupied"].get<std::int64_t>(), pool["blocked"].get<std::int64_t>(),
                          pool["operational"].get<std::int64_t>()};
      const Figures& want = at->second;
      if (shown == want) continue;
      out += node + " shows " + id + " occupied " + std::to_string(shown.occupied) + " blocked " +
             std::to_string(shown.blocked) + " operational " + std::to_string(shown.operational) + ", acknowledged " +
             std::to_string(want.occupied) + ", " + std::to_string(want.blocked) + ", " +
             std::to_string(want.operational);
      if (shown.occupied < want.occupied) out += " (admissions lost?)";
      if (shown.occupied > want.occupied) out += " (counted twice?)";
      out += "; ";
    }
  if (seen != expected) out += node + " shows " + std::to_string(seen) + " of " + std::to_string(expected) + " pools; ";
  return out;
}

std::optional<double> Campaign::converge(milliseconds deadline, const std::string& only) {
  const Oracle expected = oracle();
  return await(
      [&] {
        last_.clear();
        for (const auto& node : cluster_.nodes()) last_ += differences(node, expected, only);
        return last_.empty();
      },
      deadline);
}

std::optional<double> Campaign::knowledge_agrees(milliseconds deadline, milliseconds lag_max) {
  return await(
      [&] {
        last_.clear();
        for (const auto& node : cluster_.nodes()) {
          const auto status = cluster_.get(node, "/v1/status");
          if (!status) {
            last_ += node + ": /v1/status did not answer; ";
            continue;
          }
          for (const auto& peer : (*status)["peers"]) {
            if (peer["state"] != "up") continue;
            for (const auto& [origin, ms] : peer["behind_ms"].items()) {
              if (ms.get<std::int64_t>() <= lag_max.count()) continue;
              last_ += node + " reports " + peer["name"].get<std::string>() + " behind by " +
                       std::to_string(peer["behind_seqs"].value(origin, std::uint64_t{0})) + " seqs of origin " +
                       origin + " for " + std::to_string(ms.get<std::int64_t>()) + " ms; ";
            }
          }
        }
        return last_.empty();
      },
      deadline);
}

namespace {

// Waits for one writer to go idle, in slices so that Ctrl-C still works.
void quiesce(Writer& writer, milliseconds deadline) {
  const auto until = Clock::now() + deadline;
  while (!writer.pause(milliseconds(50))) {
    throw_if_interrupted();
    if (Clock::now() > until)
      throw std::runtime_error(writer.centre() + "'s writer still has an unanswered operation after " +
                               std::to_string(deadline.count() / 1000) + " s: its node does not answer");
  }
}

}  // namespace

void Campaign::pause_all() {
  for (auto& [centre, writer] : writers_) quiesce(*writer, timing_.converge);
  for (auto& filler : fillers_) quiesce(*filler, timing_.converge);
}

void Campaign::pause(const std::string& centre) { quiesce(*writers_.at(centre), timing_.converge); }

void Campaign::resume_all() {
  for (auto& [centre, writer] : writers_) writer->resume();
  for (auto& filler : fillers_) filler->resume();
}

void Campaign::add_fillers(const std::string& centre, int count, double rate) {
  // Every filler of the run has its own name and seed, so its op ids are
  // its own: a later filler reusing an earlier one's would be answered
  // with the earlier receipts (replays), not applied.
  for (int i = 0; i < count; ++i) {
    const auto serial = static_cast<std::uint32_t>(fillers_made_++);
    fillers_.push_back(std::make_unique<Writer>(centre + "-fill" + std::to_string(serial), cluster_.pools_of(centre),
                                                cluster_.url(centre), cluster_.operator_token(centre),
                                                seed_ * 97 + serial, rate, true));
  }
}

WriterStats Campaign::remove_fillers() {
  WriterStats total;
  for (auto& filler : fillers_) {
    filler->stop(timing_.converge);
    retired_.push_back(filler->oracle());
    total.add(filler->take_stats());
  }
  fillers_.clear();
  return total;
}

void Campaign::hold(milliseconds duration) {
  const auto until = Clock::now() + duration;
  while (Clock::now() < until) {
    throw_if_interrupted();
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(50), until - Clock::now()));
  }
}

void Campaign::step(const std::string& fault, const std::function<void(StepResult&)>& body) {
  const int number = next_step_++;
  if (!only_.empty() && !only_.contains(number)) return;
  std::printf("==> %d: %s\n", number, fault.c_str());
  std::fflush(stdout);
  StepResult result;
  result.number = number;
  result.fault = fault;
  for (auto& [centre, writer] : writers_) (void)writer->take_stats();
  resume_all();
  try {
    body(result);
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& error) {
    result.failed.push_back(std::string("the step broke off: ") + error.what());
    // Whatever the step left broken (a partition, a frozen or stopped node,
    // a changed config) is undone, or the campaign cannot go on.
    try {
      cluster_.heal_everything();
    } catch (const std::exception& again) {
      results_.push_back(std::move(result));
      throw std::runtime_error(std::string("could not heal after a broken step: ") + again.what());
    }
  }
  // Healed: quiesce the writers, then every board must equal the oracle.
  const auto healed = Clock::now();
  pause_all();
  if (converge(timing_.converge)) {
    result.converged_ms = ms_since(healed);
    for (auto& line : result.if_converged) result.held.push_back(std::move(line));
    // Five sync intervals: a heartbeat written meanwhile is level again
    // after one.
    if (const auto level = knowledge_agrees(timing_.converge, milliseconds(5'000)))
      result.noted.push_back("every node's peers were level with it on every origin " +
                             std::to_string(static_cast<long long>(*level)) + " ms after the boards agreed");
    else
      result.failed.push_back("the boards agree, but knowledge does not " +
                              std::to_string(timing_.converge.count() / 1000) + " s later: " + last_);
  } else {
    result.failed.push_back("boards still differ " + std::to_string(timing_.converge.count() / 1000) +
                            " s after healing: " + last_);
  }
  result.if_converged.clear();
  WriterStats stats;
  for (auto& [centre, writer] : writers_) {
    auto part = writer->take_stats();
    if (part.unknown > 0) part.violations.push_back(centre + ": " + std::to_string(part.unknown) + " operations unanswered");
    stats.add(std::move(part));
  }
  result.acknowledged += stats.acknowledged;
  result.retried += stats.retried;
  result.replays_checked += stats.replays_checked;
  if (!stats.violations.empty()) {
    std::string text;
    for (std::size_t i = 0; i < stats.violations.size() && i < 5; ++i) text += stats.violations[i] + "; ";
    result.failed.push_back(std::to_string(stats.violations.size()) + " wrong answers: " + text);
  }
  for (const auto& line : result.held) std::printf("    held: %s\n", line.c_str());
  for (const auto& line : result.failed) std::printf("    DID NOT HOLD: %s\n", line.c_str());
  for (const auto& line : result.noted) std::printf("    noted: %s\n", line.c_str());
  if (result.converged_ms) std::printf("    converged %.0f ms after healing\n", *result.converged_ms);
  std::fflush(stdout);
  results_.push_back(std::move(result));
}

}  // namespace placemesh::faults
