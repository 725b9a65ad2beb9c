// The quickstart network (HQ and six centres) as real placemeshd processes on
// loopback, every node behind a fault proxy: random operations at every
// centre while links are delayed, held back (until the silence check closes
// them), duplicated (a replayed frame the secure channel must refuse), cut
// for one node and then for all, while two centres are stopped (one by
// SIGKILL) and restarted and one restarts from a wiped data directory. At
// the end every node's board must equal the oracle of acknowledged
// operations exactly, within a deadline.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <random>

#include "tests/support/test_network.hpp"
#include "tools/fault_proxy.hpp"

using namespace placemesh;
using namespace placemesh::test;
using nlohmann::json;

namespace {

struct Figures {
  std::int64_t occupied = 0, blocked = 0;
};

class Campaign {
 public:
  Campaign() : plan_(tools::quickstart_on_free_ports(true)), network_("seven", plan_), rng_(std::random_device{}()) {
    for (const auto& node : plan_.nodes) {
      proxies_[node.name] = std::make_unique<tools::FaultProxy>(node.advertised_port, node.gossip_port);
      for (const auto& pool : node.pools) oracle_[node.name + "/" + pool.unit] = {};
    }
    for (const auto& node : plan_.nodes) nodes_[node.name] = std::make_unique<RunningNode>(network_, node.name);
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
      json body = {{"op_id", "op-" + std::to_string(++ops_)}, {"count", 1 + roll % 3}};
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
      std::string lower = centre;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto response = nodes_.at(centre)->request(
          "POST", "/v1/pools/" + pool + "/" + operation, body.dump(), network_.token(lower));
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
    const json board = json::parse(response.body);
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

  std::uint64_t rejections(const std::string& reason) const {
    std::uint64_t total = 0;
    for (const auto& [name, node] : nodes_) {
      const auto status = node->get("/v1/status");
      total += status["rejections"].value(reason, std::uint64_t{0});
    }
    return total;
  }

  tools::NetworkPlan plan_;
  TestNetwork network_;
  std::mt19937 rng_;
  std::map<std::string, std::unique_ptr<tools::FaultProxy>> proxies_;
  std::map<std::string, std::unique_ptr<RunningNode>> nodes_;
  std::map<std::string, Figures> oracle_;
  std::set<std::string> down_;
  std::uint64_t ops_ = 0, acknowledged_ = 0;
};

}  // namespace

TEST_CASE("replication: seven real nodes equal the oracle after stops, a kill, a wiped disk and faulty links") {
  Campaign c;
  c.operate(60);

  // Every link delayed by 30 ms.
  for (auto& [name, proxy] : c.proxies_) proxy->set_delay(std::chrono::milliseconds(30));
  c.operate_for(std::chrono::milliseconds(1'500));
  for (auto& [name, proxy] : c.proxies_) proxy->set_delay(std::chrono::milliseconds(0));

  // CIM's inbound links hold everything back long enough for the silence
  // check to close them; CIH's are cut and refused.
  c.proxies_.at("CIM")->hold(true);
  c.proxies_.at("CIH")->cut();
  c.operate_for(std::chrono::milliseconds(6'500));
  c.proxies_.at("CIM")->hold(false);
  c.proxies_.at("CIH")->restore();

  // A chunk replayed into the encrypted streams: refused, links reset.
  for (auto& [name, proxy] : c.proxies_) proxy->duplicate_next();
  c.operate_for(std::chrono::milliseconds(1'500));
  CHECK(eventually([&] { return c.rejections("garbled_frame") >= 1; }));

  // CAR stops cleanly and CIB is killed; the others go on.
  c.stop("CAR", SIGTERM);
  c.stop("CIB", SIGKILL);
  c.operate(40);
  c.start("CAR");
  c.start("CIB");
  c.operate(20);

  // CIV loses its disk once HQ holds what it recorded: it restarts as a new
  // epoch and gets its old records back from its peers.
  REQUIRE(eventually([&] { return c.mismatch("HQ").find("CIV/") == std::string::npos; }));
  c.stop("CIV", SIGTERM);
  std::filesystem::remove_all(c.nodes_.at("CIV")->info().data_dir);
  c.start("CIV");
  c.operate(30);

  // Every link cut: each node alone, each centre still recording.
  for (auto& [name, proxy] : c.proxies_) proxy->cut();
  c.operate_for(std::chrono::milliseconds(2'000));
  for (auto& [name, proxy] : c.proxies_) proxy->restore();
  c.operate(20);

  std::string last;
  const bool converged = eventually(
      [&] {
        last = c.mismatches();
        return last.empty();
      },
      std::chrono::seconds(60));
  INFO(c.acknowledged_ << " operations acknowledged; " << last);
  CHECK(converged);
  CHECK(c.acknowledged_ >= 200);
}
