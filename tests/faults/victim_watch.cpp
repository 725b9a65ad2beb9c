#include "tests/faults/victim_watch.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "tools/lab/bench_common.hpp"

namespace placemesh::faults {

namespace {

// utime + stime of one process, in clock ticks; 0 if it is gone.
unsigned long long ticks_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  const auto close = line.rfind(')');  // comm may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  // After comm: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15).
  for (int i = 3; i < 14 && rest >> field; ++i) {
  }
  unsigned long long utime = 0, stime = 0;
  rest >> utime >> stime;
  return utime + stime;
}

}  // namespace

VictimWatch::VictimWatch(pid_t pid, tools::Url api, std::string token)
    : pid_(pid), api_(std::move(api)), token_(std::move(token)) {
  cpu_start_ = cpu_seconds();
  started_ = std::chrono::steady_clock::now();
  prober_ = std::thread([this] {
    tools::HttpClient probe(api_, std::chrono::seconds(5));
    while (!stopping_) {
      const auto asked = std::chrono::steady_clock::now();
      const auto read = probe.request("GET", "/v1/board", "", token_);
      ++probes_;
      if (read.response && read.response->status == 200)
        latencies_ms_.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - asked).count());
      // Pacing, not synchronisation: one honest read every 100 ms.
      std::this_thread::sleep_until(asked + std::chrono::milliseconds(100));
    }
  });
}

VictimWatch::~VictimWatch() { (void)stop(); }

double VictimWatch::cpu_seconds() const {
  unsigned long long ticks = ticks_of(pid_);
  for (const pid_t child : bench::descendants(pid_)) ticks += ticks_of(child);
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

VictimFigures VictimWatch::stop() {
  if (figures_) return *figures_;
  stopping_ = true;
  if (prober_.joinable()) prober_.join();
  VictimFigures figures;
  figures.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  figures.cpu_percent = figures.seconds > 0 ? 100.0 * (cpu_seconds() - cpu_start_) / figures.seconds : 0;
  figures.probes = probes_;
  figures.answered = static_cast<int>(latencies_ms_.size());
  figures.p99_ms = latencies_ms_.empty() ? 0 : bench::percentile(latencies_ms_, 0.99);
  figures_ = figures;
  return figures;
}

}  // namespace placemesh::faults
