#pragma once
// The fault campaign's workload: one writer thread per centre, recording
// admissions, releases, blocks, unblocks and operational capacity on its own
// centre's node at a steady rate, and an oracle of what the node
// acknowledged.
//
// A request whose outcome is unknown (timeout, reset, node killed or
// frozen) is retried with the same op_id until the node answers: the node's
// idempotency must then apply it once. After some acknowledged operations
// the writer also sends the same request again on purpose and requires the
// node's first receipt back (X-Placemesh-Replay), changing nothing. So an
// exact match of every board with the oracle means nothing acknowledged was
// lost and nothing was counted twice.
//
// Thread contract: every public method may be called from the campaign's
// thread while the writer runs; the writer's thread must be started after
// the caller entered the network namespace the nodes are reached from.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/lab/http_client.hpp"

namespace placemesh::faults {

struct Figures {
  std::int64_t occupied = 0, blocked = 0, operational = 0;
  friend bool operator==(const Figures&, const Figures&) = default;
};
// Pool id ("CIM/men") → what its centre acknowledged.
using Oracle = std::map<std::string, Figures>;

struct PoolSpec {
  std::string id;  // CENTRE/unit
  std::int64_t design = 0;
};

struct WriterStats {
  std::uint64_t acknowledged = 0;
  std::uint64_t store_full = 0;       // refused with 507 (not applied, not in the oracle)
  std::uint64_t retried = 0;          // attempts after an unknown outcome or 503
  std::uint64_t replays_checked = 0;  // deliberate repeats answered with the first receipt
  std::uint64_t unknown = 0;          // given up on at stop without an answer (not in the oracle)
  std::vector<std::string> violations;  // answers that must never happen

  void add(WriterStats other) {
    acknowledged += other.acknowledged;
    store_full += other.store_full;
    retried += other.retried;
    replays_checked += other.replays_checked;
    unknown += other.unknown;
    for (auto& violation : other.violations) violations.push_back(std::move(violation));
  }
};

class Writer {
 public:
  // `admissions_only`: a filler beside the centre's own writer, which never
  // blocks or sets capacity (its oracle's registers are not the pool's).
  Writer(std::string centre, std::vector<PoolSpec> pools, tools::Url url, std::string token, std::uint32_t seed,
         double operations_per_second, bool admissions_only = false);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Asks the writer to idle; true once no operation is in flight (so a node
  // may be stopped cleanly without an unknown outcome), false if one is
  // still unanswered after `wait` (its node is down: ask again later).
  [[nodiscard]] bool pause(std::chrono::milliseconds wait);
  void resume();
  // Stops the thread; an operation still unanswered after `patience` is
  // counted as unknown.
  void stop(std::chrono::milliseconds patience);

  [[nodiscard]] Oracle oracle() const;
  // Figures since the last take (the campaign reports them per step).
  [[nodiscard]] WriterStats take_stats();
  // Retries since the last take, without taking.
  [[nodiscard]] std::uint64_t retried() const {
    std::lock_guard lock(mutex_);
    return stats_.retried;
  }
  [[nodiscard]] const std::string& centre() const { return centre_; }

 private:
  struct Operation {
    std::string pool, kind, body;
    std::int64_t count = 0, value = 0;
  };
  enum class Outcome { applied, refused, unknown };
  void run();
  [[nodiscard]] Operation next();
  [[nodiscard]] Outcome submit(tools::HttpClient& client, const Operation& op, std::string& receipt);
  void check_replay(tools::HttpClient& client, const Operation& op, const std::string& receipt);
  void apply(const Operation& op);

  std::string centre_;
  std::vector<PoolSpec> pools_;
  tools::Url url_;
  std::string token_;
  std::chrono::microseconds period_;
  std::uint64_t seed_;
  std::uint64_t serial_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Oracle oracle_;
  WriterStats stats_;
  const bool admissions_only_;
  bool pause_requested_ = false, idle_ = false, stopping_ = false;
  std::chrono::steady_clock::time_point stop_deadline_{};
  std::thread thread_;
};

}  // namespace placemesh::faults
