#pragma once
// A LocalNetwork in a fresh temporary folder that the test removes.

#include <signal.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "tools/lab/local_network.hpp"

namespace placemesh::test {

using tools::Daemon;
using tools::read_file;
using tools::run_placemeshd;
using tools::TestNode;

inline std::filesystem::path make_temp_dir(std::string_view label) {
  char pattern[] = "/tmp/placemesh-test-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp");
  return std::filesystem::path(pattern) / std::string(label);
}

class TestNetwork : public tools::LocalNetwork {
 public:
  explicit TestNetwork(std::string_view label) : LocalNetwork(make_temp_dir(label)) {}
  TestNetwork(std::string_view label, const tools::NetworkPlan& plan) : LocalNetwork(make_temp_dir(label), plan) {}
  ~TestNetwork() {
    std::error_code ec;
    std::filesystem::remove_all(dir().parent_path(), ec);
  }
  TestNetwork(const TestNetwork&) = delete;
  TestNetwork& operator=(const TestNetwork&) = delete;
};

inline constexpr auto node_deadline = std::chrono::seconds(30);

// The JSON body of an API answer (every answer of the node is JSON).
inline nlohmann::json body_of(const tools::HttpResponse& response) {
  auto parsed = nlohmann::json::parse(response.body, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  return parsed;
}

// Polls `check` until it holds or the deadline passes (a condition awaited
// with a deadline, not a sleep standing in for one).
inline bool eventually(const std::function<bool()>& check, std::chrono::milliseconds deadline = node_deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return check();
}

// A placemeshd of a TestNetwork that the test can stop and start again.
class RunningNode {
 public:
  RunningNode(const TestNetwork& network, const std::string& name, std::vector<std::string> wrapper = {})
      : network_(network), info_(network.node(name)), wrapper_(std::move(wrapper)) {
    start();
  }
  void start() {
    daemon_ = std::make_unique<Daemon>(info_.config, network_.dir() / (info_.name + ".log"), wrapper_);
    std::string why;
    if (!daemon_->wait_ready(info_.url(), node_deadline, why)) FAIL(why);
  }
  void stop() {
    daemon_->signal(SIGTERM);
    REQUIRE(daemon_->wait_exit(node_deadline).has_value());
  }
  [[nodiscard]] tools::HttpResponse request(std::string_view method, const std::string& path, const std::string& body,
                                            const std::string& token) const {
    tools::HttpClient client(info_.url(), std::chrono::seconds(10));
    auto outcome = client.request(method, path, body, token);
    REQUIRE(outcome.response.has_value());
    return *outcome.response;
  }
  [[nodiscard]] nlohmann::json get(const std::string& path) const {
    const auto response = request("GET", path, "", network_.token("admin"));
    REQUIRE(response.status == 200);
    return nlohmann::json::parse(response.body);
  }
  // occupied of the pool CENTRE/unit on this node's board, -1 if absent.
  [[nodiscard]] std::int64_t occupied(const std::string& centre, const std::string& unit) const {
    const nlohmann::json board = get("/v1/board");  // kept: a range-for over a temporary's member dangles
    for (const auto& c : board["centres"])
      if (c["centre"] == centre)
        for (const auto& p : c["pools"])
          if (p["pool"] == unit) return p["occupied"].get<std::int64_t>();
    return -1;
  }
  // A sample of GET /metrics (no token), by its series exactly as printed,
  // e.g. placemesh_peer_up{peer="CIB"}; nullopt if absent.
  [[nodiscard]] std::optional<double> metric(const std::string& series) const {
    const auto response = request("GET", "/metrics", "", "");
    REQUIRE(response.status == 200);
    std::istringstream lines(response.body);
    std::string line;
    while (std::getline(lines, line))
      if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
        return std::stod(line.substr(series.size() + 1));
    return std::nullopt;
  }
  [[nodiscard]] const TestNode& info() const { return info_; }
  [[nodiscard]] Daemon& daemon() { return *daemon_; }

 private:
  const TestNetwork& network_;
  const TestNode& info_;
  std::vector<std::string> wrapper_;
  std::unique_ptr<Daemon> daemon_;
};

}  // namespace placemesh::test
