#pragma once
// The quickstart's seven nodes (HQ and the six closed centres) as real
// placemeshd processes on loopback, optionally each behind a fault proxy,
// for placemesh-bench and placemesh-compare. The constructor returns once
// every node is linked to all six others; the destructor stops them with
// SIGTERM. Failures end the program (bench::die): these are benchmarks.
//
// Thread contract: the methods that send requests (constructor,
// metric_sum) make their own connections and may be called from any
// thread; start, stop and signal from one thread.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tools/lab/fault_proxy.hpp"
#include "tools/lab/local_network.hpp"

namespace placemesh::tools {

class RunningMesh {
 public:
  RunningMesh(const std::filesystem::path& dir, bool proxied);
  ~RunningMesh();
  RunningMesh(const RunningMesh&) = delete;
  RunningMesh& operator=(const RunningMesh&) = delete;

  void start(const std::string& name);
  void stop(const std::string& name);
  // Sends a signal to one node (SIGSTOP, SIGCONT, …).
  void signal(const std::string& name, int number);

  [[nodiscard]] std::uint16_t port(const std::string& name) const { return network_->node(name).api_port; }
  [[nodiscard]] std::string token(const std::string& name) const { return network_->token(name); }
  // The centre's first pool ("CIM/men").
  [[nodiscard]] const std::string& pool(const std::string& centre) const { return pool_of_.at(centre); }
  // Every pool of the centre.
  [[nodiscard]] const std::vector<std::string>& pools(const std::string& centre) const {
    return pools_of_.at(centre);
  }
  [[nodiscard]] const std::vector<std::string>& names() const { return names_; }
  [[nodiscard]] const TestNode& node(const std::string& name) const { return network_->node(name); }
  void set_delay(int ms);
  // The sum of a metric over every sample of it on one node.
  [[nodiscard]] double metric_sum(const std::string& name, const std::string& family) const;

 private:
  std::unique_ptr<LocalNetwork> network_;
  std::map<std::string, std::unique_ptr<FaultProxy>> proxies_;
  std::map<std::string, std::unique_ptr<Daemon>> daemons_;
  std::vector<std::string> names_;
  std::map<std::string, std::string> pool_of_;
  std::map<std::string, std::vector<std::string>> pools_of_;
};

}  // namespace placemesh::tools
