#include "tests/faults/workload.hpp"

#include <nlohmann/json.hpp>
#include <random>

namespace placemesh::faults {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto request_timeout = std::chrono::milliseconds(2'000);
constexpr auto retry_pause = std::chrono::milliseconds(100);
constexpr int replay_percent = 10;

// SplitMix64: one seed draws the writer's whole sequence of choices.
std::uint64_t mix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

Writer::Writer(std::string centre, std::vector<PoolSpec> pools, tools::Url url, std::string token, std::uint32_t seed,
               double operations_per_second, bool admissions_only)
    : centre_(std::move(centre)),
      pools_(std::move(pools)),
      url_(std::move(url)),
      token_(std::move(token)),
      period_(static_cast<std::int64_t>(1e6 / operations_per_second)),
      seed_(seed),
      admissions_only_(admissions_only) {
  for (const auto& pool : pools_) oracle_[pool.id] = Figures{0, 0, pool.design};
  thread_ = std::thread([this] { run(); });
}

Writer::~Writer() { stop(std::chrono::milliseconds(0)); }

bool Writer::pause(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  pause_requested_ = true;
  return changed_.wait_for(lock, wait, [&] { return idle_ || stopping_; });
}

void Writer::resume() {
  std::lock_guard lock(mutex_);
  pause_requested_ = false;
  changed_.notify_all();
}

void Writer::stop(std::chrono::milliseconds patience) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) stop_deadline_ = Clock::now() + patience;
    stopping_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

Oracle Writer::oracle() const {
  std::lock_guard lock(mutex_);
  return oracle_;
}

WriterStats Writer::take_stats() {
  std::lock_guard lock(mutex_);
  return std::exchange(stats_, WriterStats{});
}

Writer::Operation Writer::next() {
  const Oracle now = oracle();
  const PoolSpec& pool = pools_[mix(seed_) % pools_.size()];
  const Figures& figures = now.at(pool.id);
  const auto roll = admissions_only_ ? 0 : static_cast<int>(mix(seed_) % 100);
  Operation op{pool.id, "admit", "", 1 + static_cast<std::int64_t>(mix(seed_) % 3), 0};
  if (roll >= 45 && roll < 75 && figures.occupied >= 2) {
    op.kind = "release";
    op.count = 1 + static_cast<std::int64_t>(mix(seed_) % 2);
  } else if (roll >= 75 && roll < 85) {
    op.kind = "block";
    op.count = 1;
  } else if (roll >= 85 && roll < 95 && figures.blocked >= 1) {
    op.kind = "unblock";
    op.count = 1;
  } else if (roll >= 95) {
    op.kind = "operational";
    op.value = pool.design - static_cast<std::int64_t>(mix(seed_) % 10);
  }
  nlohmann::json body = {{"op_id", "faults-" + centre_ + "-" + std::to_string(++serial_)}};
  if (op.kind == "operational") {
    body["value"] = op.value;
  } else {
    body["count"] = op.count;
    if (op.kind == "release") body["reason"] = "released";
    if (op.kind == "block" || op.kind == "unblock") body["reason"] = "maintenance";
  }
  op.body = body.dump();
  return op;
}

Writer::Outcome Writer::submit(tools::HttpClient& client, const Operation& op, std::string& receipt) {
  const std::string path = "/v1/pools/" + op.pool + "/" + op.kind;
  for (bool retry = false;; retry = true) {
    {
      std::lock_guard lock(mutex_);
      if (retry) ++stats_.retried;
      if (stopping_ && Clock::now() > stop_deadline_) {
        ++stats_.unknown;
        return Outcome::unknown;
      }
    }
    auto outcome = client.request("POST", path, op.body, token_);
    if (outcome.response) {
      const auto& response = *outcome.response;
      const bool replayed = response.headers.contains("x-placemesh-replay");
      std::lock_guard lock(mutex_);
      if (response.status == 200) {
        // A replay on the first attempt would mean an op_id was used twice.
        if (replayed && !retry) stats_.violations.push_back("first attempt answered as a replay: " + op.body);
        receipt = response.body;
        return Outcome::applied;
      }
      if (response.status == 409 && response.body.find("nothing_to_remove") != std::string::npos)
        return Outcome::refused;
      if (response.status == 507 || response.status == 500) {  // full or failed store: not applied
        if (response.status == 507) ++stats_.store_full;
        return Outcome::refused;
      }
      if (response.status != 503) {  // 503 busy: retry with the same op_id, as the API says
        stats_.violations.push_back(centre_ + " answered " + std::to_string(response.status) + " to " + path + " " +
                                    op.body + ": " + response.body);
        return Outcome::refused;
      }
    }
    std::this_thread::sleep_for(retry_pause);  // the node is away: retry after a pause
  }
}

void Writer::check_replay(tools::HttpClient& client, const Operation& op, const std::string& receipt) {
  auto outcome = client.request("POST", "/v1/pools/" + op.pool + "/" + op.kind, op.body, token_);
  if (!outcome.response) return;  // the node went away meanwhile; nothing to judge
  std::lock_guard lock(mutex_);
  const auto& response = *outcome.response;
  const auto seq_of = [](const std::string& text) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    return json.is_object() && json.contains("seq") ? json["seq"].dump() : std::string("?");
  };
  if (response.status == 503) return;  // stopping or busy: judged afresh later, nothing applied
  if (response.status != 200 || !response.headers.contains("x-placemesh-replay") ||
      seq_of(response.body) != seq_of(receipt))
    stats_.violations.push_back("a repeated " + op.body + " at " + centre_ + " was not answered with its first receipt: " +
                                std::to_string(response.status) + " " + response.body);
  else
    ++stats_.replays_checked;
}

void Writer::apply(const Operation& op) {
  std::lock_guard lock(mutex_);
  ++stats_.acknowledged;
  Figures& figures = oracle_.at(op.pool);
  if (op.kind == "admit") figures.occupied += op.count;
  if (op.kind == "release") figures.occupied -= op.count;
  if (op.kind == "block") figures.blocked += op.count;
  if (op.kind == "unblock") figures.blocked -= op.count;
  if (op.kind == "operational") figures.operational = op.value;
}

void Writer::run() {
  tools::HttpClient client(url_, request_timeout);
  auto due = Clock::now();
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (pause_requested_ && !stopping_) {
        idle_ = true;
        changed_.notify_all();
        changed_.wait(lock, [&] { return !pause_requested_ || stopping_; });
        idle_ = false;
        due = Clock::now();
      }
      if (stopping_) {
        idle_ = true;
        changed_.notify_all();
        return;
      }
    }
    const Operation op = next();
    std::string receipt;
    if (submit(client, op, receipt) == Outcome::applied) {
      apply(op);
      if (mix(seed_) % 100 < replay_percent) check_replay(client, op, receipt);
    }
    due += period_;
    const auto now = Clock::now();
    if (due < now) due = now;  // behind (a retry took long): no burst to catch up
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, due, [&] { return stopping_ || pause_requested_; });
  }
}

}  // namespace placemesh::faults
