#include "tools/lab/running_mesh.hpp"

#include <signal.h>

#include <nlohmann/json.hpp>

#include "tools/lab/bench_common.hpp"

namespace placemesh::tools {

using namespace placemesh::bench;
using nlohmann::json;

RunningMesh::RunningMesh(const std::filesystem::path& dir, bool proxied) {
  const NetworkPlan plan = quickstart_on_free_ports(proxied);
  network_ = std::make_unique<LocalNetwork>(dir, plan);
  for (const auto& node : plan.nodes) {
    if (proxied) proxies_[node.name] = std::make_unique<FaultProxy>(node.advertised_port, node.gossip_port);
    names_.push_back(node.name);
    for (const auto& pool : node.pools) {
      if (!pool_of_.contains(node.name)) pool_of_[node.name] = node.name + "/" + pool.unit;
      pools_of_[node.name].push_back(node.name + "/" + pool.unit);
    }
  }
  for (const auto& name : names_) start(name);
  // Every node linked to all six others.
  const auto until = Clock::now() + std::chrono::seconds(30);
  for (const auto& name : names_) {
    for (;;) {
      RawHttpClient http(port(name), token("admin"));
      if (http.get("/v1/status") == 200) {
        const auto status = json::parse(http.body());
        std::size_t up = 0;
        for (const auto& peer : status["peers"]) up += peer["state"] == "up";
        if (up == names_.size() - 1) break;
      }
      if (Clock::now() > until) die(name + " did not link to all its peers within 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

RunningMesh::~RunningMesh() {
  for (auto& [name, daemon] : daemons_) daemon->signal(SIGCONT);  // a stopped node must be able to drain
  for (auto& [name, daemon] : daemons_) daemon->signal(SIGTERM);
  for (auto& [name, daemon] : daemons_) (void)daemon->wait_exit(std::chrono::seconds(30));
}

void RunningMesh::start(const std::string& name) {
  const auto& node = network_->node(name);
  daemons_[name] = std::make_unique<Daemon>(node.config, network_->dir() / (name + ".log"));
  std::string why;
  if (!daemons_[name]->wait_ready(node.url(), std::chrono::seconds(20), why)) die(why);
}

void RunningMesh::stop(const std::string& name) {
  daemons_.at(name)->signal(SIGTERM);
  if (!daemons_.at(name)->wait_exit(std::chrono::seconds(30))) die(name + " did not stop");
  daemons_.erase(name);
}

void RunningMesh::signal(const std::string& name, int number) { daemons_.at(name)->signal(number); }

void RunningMesh::set_delay(int ms) {
  for (auto& [name, proxy] : proxies_) proxy->set_delay(std::chrono::milliseconds(ms));
}

double RunningMesh::metric_sum(const std::string& name, const std::string& family) const {
  RawHttpClient http(port(name), "");
  if (http.get("/metrics") != 200) die("GET /metrics failed on " + name);
  double total = 0;
  const std::string_view body = http.body();
  for (std::size_t at = 0; at < body.size();) {
    const auto end = std::min(body.find('\n', at), body.size());
    const std::string_view line = body.substr(at, end - at);
    at = end + 1;
    if (line.size() <= family.size() || line.compare(0, family.size(), family) != 0) continue;
    if (line[family.size()] != '{' && line[family.size()] != ' ') continue;
    total += std::strtod(std::string(line.substr(line.rfind(' ') + 1)).c_str(), nullptr);
  }
  return total;
}

}  // namespace placemesh::tools
