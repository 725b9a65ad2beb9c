#pragma once
// A campaign against a real network (tests/node/convergence_test.cpp on
// loopback behind fault proxies, tests/node/netns_test.cpp in network
// namespaces): the quickstart's seven nodes as placemeshd processes, random
// operations at every running centre with an oracle of what was
// acknowledged, stops, kills and restarts, and the comparison of every
// node's board with the oracle.
#include <signal.h>

#include <catch2/catch.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "tests/support/test_network.hpp"

namespace placemesh::test {

struct Figures {
  std::int64_t occupied = 0, blocked = 0;
};

class Campaign {
 public:
  using Wrapper = std::function<std::vector<std::string>(const std::string& node)>;

  // Starts every node of `plan` (through `wrapper`, if given).
  explicit Campaign(const tools::NetworkPlan& plan, const Wrapper& wrapper = {})
      : network_("seven", plan), rng_(std::random_device{}()) {
    for (const auto& node : plan.nodes)
      for (const auto& pool : node.pools) oracle_[node.name + "/" + pool.unit] = {};
    for (const auto& node : plan.nodes)
      nodes_[node.name] =
          std::make_unique<RunningNode>(network_, node.name, wrapper ? wrapper(node.name) : std::vector<std::string>{});
  }

  // Random operations at every running centre for `duration` (a fault's
  // length, not a wait for something to happen).
  void operate_for(std::chrono::milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    do operate(5);
    while (std::chrono::steady_clock::now() < until);
  }

  void operate(int count) {
    std::vector<std::string> pools;
    for (const auto& [pool, figures] : oracle_)
      if (!down_.contains(pool.substr(0, pool.find('/')))) pools.push_back(pool);
    for (int k = 0; k < count; ++k) {
      const std::string pool = pools[std::uniform_int_distribution<std::size_t>(0, pools.size() - 1)(rng_)];
      const std::string centre = pool.substr(0, pool.find('/'));
      Figures& expected = oracle_[pool];
      const int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
      std::string operation = "admit";
      nlohmann::json body = {{"op_id", "op-" + std::to_string(++ops_)}, {"count", 1 + roll % 3}};
      if (roll >= 50 && roll < 80 && expected.occupied >= 2) {
        operation = "release";
        body["count"] = 1 + roll % 2;
        body["reason"] = "released";
      } else if (roll >= 80 && roll < 90) {
        operation = "block";
        body["count"] = 1;
        body["reason"] = "maintenance";
      } else if (roll >= 90 && expected.blocked >= 1) {
        operation = "unblock";
        body["count"] = 1;
        body["reason"] = "maintenance";
      }
      const auto response = nodes_.at(centre)->request("POST", "/v1/pools/" + pool + "/" + operation, body.dump(),
                                                       network_.token(tools::operator_token_name(centre)));
      INFO(centre << " " << operation << " " << body.dump() << ": " << response.body);
      // 409: a release or unblock above what the centre sees (after its disk
      // was wiped, until its old records are back). Anything else must succeed.
      const bool lowers = operation == "release" || operation == "unblock";
      REQUIRE((response.status == 200 || (response.status == 409 && lowers)));
      if (response.status != 200) continue;
      ++acknowledged_;
      const std::int64_t n = body["count"].get<std::int64_t>();
      if (operation == "admit") expected.occupied += n;
      if (operation == "release") expected.occupied -= n;
      if (operation == "block") expected.blocked += n;
      if (operation == "unblock") expected.blocked -= n;
    }
  }

  // What differs between a node's board and the oracle ("" when nothing).
  std::string mismatch(const std::string& name) const {
    const auto response = nodes_.at(name)->request("GET", "/v1/board", "", network_.token("viewer"));
    if (response.status != 200) return name + ": /v1/board answered " + std::to_string(response.status);
    const nlohmann::json board = nlohmann::json::parse(response.body);
    std::string out;
    std::size_t seen = 0;
    for (const auto& centre : board["centres"])
      for (const auto& pool : centre["pools"]) {
        const std::string id = pool["id"];
        const Figures& expected = oracle_.at(id);
        ++seen;
        if (pool["occupied"] != expected.occupied || pool["blocked"] != expected.blocked)
          out += name + " shows " + id + " occupied " + pool["occupied"].dump() + " blocked " +
                 pool["blocked"].dump() + ", expected " + std::to_string(expected.occupied) + " and " +
                 std::to_string(expected.blocked) + "; ";
      }
    if (seen != oracle_.size()) out += name + " shows " + std::to_string(seen) + " pools; ";
    return out;
  }

  std::string mismatches() const {
    std::string out;
    for (const auto& [name, node] : nodes_) out += mismatch(name);
    return out;
  }

  void stop(const std::string& name, int signal_number) {
    if (signal_number == SIGKILL) {
      nodes_.at(name)->daemon().signal(SIGKILL);
      REQUIRE(nodes_.at(name)->daemon().wait_exit(node_deadline).has_value());
    } else {
      nodes_.at(name)->stop();
    }
    down_.insert(name);
  }
  void start(const std::string& name) {
    nodes_.at(name)->start();
    down_.erase(name);
  }

  // The state of `peer`'s link as `node` reports it ("up", "waiting", …).
  std::string link_state(const std::string& node, const std::string& peer) const {
    const auto status = nodes_.at(node)->get("/v1/status");
    for (const auto& entry : status["peers"])
      if (entry["name"] == peer) return entry["state"].get<std::string>();
    return "missing";
  }

  std::uint64_t rejections(const std::string& reason) const {
    std::uint64_t total = 0;
    for (const auto& [name, node] : nodes_) {
      const auto status = node->get("/v1/status");
      total += status["rejections"].value(reason, std::uint64_t{0});
    }
    return total;
  }

  // Stops a node, removes its data directory, starts it again.
  void wipe(const std::string& name) {
    stop(name, SIGTERM);
    std::filesystem::remove_all(nodes_.at(name)->info().data_dir);
    start(name);
  }

  // Waits (up to `deadline`) until every board equals the oracle; INFO says
  // what still differed otherwise.
  [[nodiscard]] bool converges(std::chrono::milliseconds deadline) {
    last_ = "";
    return eventually(
        [&] {
          last_ = mismatches();
          return last_.empty();
        },
        deadline);
  }
  [[nodiscard]] const std::string& last_mismatch() const { return last_; }

  TestNetwork network_;
  std::mt19937 rng_;
  std::map<std::string, std::unique_ptr<RunningNode>> nodes_;
  std::map<std::string, Figures> oracle_;
  std::set<std::string> down_;
  std::uint64_t ops_ = 0, acknowledged_ = 0;
  std::string last_;
};

}  // namespace placemesh::test
