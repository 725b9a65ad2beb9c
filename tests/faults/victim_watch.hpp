#pragma once
// The victim's side of an attack, for the figures in docs/reliability.md
// (issue 15): the CPU its placemeshd used (from /proc: the process and what
// runs below it) and how an honest dispatcher's board reads fared, probed
// every 100 ms on a thread of its own while the attack runs. Reported, not
// judged: this is a shared, noisy machine.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tools/lab/http_client.hpp"

namespace placemesh::faults {

struct VictimFigures {
  double seconds = 0;      // how long it was watched
  double cpu_percent = 0;  // of one core, over that time
  double p99_ms = 0;       // of the board reads answered 200
  int probes = 0, answered = 0;
};

class VictimWatch {
 public:
  VictimWatch(pid_t pid, tools::Url api, std::string token);
  ~VictimWatch();
  VictimWatch(const VictimWatch&) = delete;
  VictimWatch& operator=(const VictimWatch&) = delete;

  // Stops probing (once) and returns the figures.
  VictimFigures stop();

 private:
  [[nodiscard]] double cpu_seconds() const;

  pid_t pid_;
  tools::Url api_;
  std::string token_;
  double cpu_start_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::atomic<bool> stopping_{false};
  std::vector<double> latencies_ms_;
  int probes_ = 0;
  std::thread prober_;
  std::optional<VictimFigures> figures_;
};

}  // namespace placemesh::faults
