// Records flowing between real placemeshd processes on loopback: eager push,
// catch-up after a node was down, and a node that lost its disk recovering
// its old records from its peers. (The full campaign with partitions and the
// simulator is the replication issue's.)
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;
using nlohmann::json;

namespace {

constexpr auto deadline = std::chrono::seconds(30);

struct Node {
  Node(const TestNetwork& test_network, const std::string& name)
      : network(test_network), info(test_network.node(name)) {
    start();
  }
  void start() {
    daemon = std::make_unique<Daemon>(info.config, network.dir() / (info.name + ".log"));
    std::string why;
    if (!daemon->wait_ready(info.url(), deadline, why)) FAIL(why);
  }
  void stop() {
    daemon->signal(SIGTERM);
    REQUIRE(daemon->wait_exit(deadline).has_value());
  }
  tools::HttpResponse post(const std::string& path, const std::string& body, const std::string& token) const {
    tools::HttpClient client(info.url(), std::chrono::seconds(10));
    auto outcome = client.request("POST", path, body, token);
    REQUIRE(outcome.response.has_value());
    return *outcome.response;
  }
  // occupied of pool "CENTRE/unit" on this node's board
  std::int64_t occupied(const std::string& centre, const std::string& unit) const {
    tools::HttpClient client(info.url(), std::chrono::seconds(5));
    auto outcome = client.request("GET", "/v1/board", "", network.token("viewer"));
    REQUIRE(outcome.response.has_value());
    REQUIRE(outcome.response->status == 200);
    const json board = json::parse(outcome.response->body);  // kept: a range-for over a temporary's member dangles
    for (const auto& c : board["centres"])
      if (c["centre"] == centre)
        for (const auto& p : c["pools"])
          if (p["pool"] == unit) return p["occupied"].get<std::int64_t>();
    return -1;
  }
  const TestNetwork& network;
  const TestNode& info;
  std::unique_ptr<Daemon> daemon;
};

bool eventually(const std::function<bool()>& check) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return check();
}

std::string admit(int count, const std::string& op_id) {
  return json{{"count", count}, {"op_id", op_id}}.dump();
}

}  // namespace

TEST_CASE("replication: every node converges on each centre's figures, also after downtime and a lost disk") {
  TestNetwork network("replication");
  Node cim(network, "CIM"), cib(network, "CIB"), hq(network, "HQ");
  const std::string cim_token = network.token("cim"), cib_token = network.token("cib");

  REQUIRE(cim.post("/v1/pools/CIM/men/admit", admit(4, "a1"), cim_token).status == 200);
  REQUIRE(cib.post("/v1/pools/CIB/women/admit", admit(2, "b1"), cib_token).status == 200);
  CHECK(eventually([&] { return hq.occupied("CIM", "men") == 4 && hq.occupied("CIB", "women") == 2; }));
  CHECK(eventually([&] { return cib.occupied("CIM", "men") == 4 && cim.occupied("CIB", "women") == 2; }));

  // CIB is down while CIM records more; it catches up when it is back.
  cib.stop();
  REQUIRE(cim.post("/v1/pools/CIM/men/admit", admit(3, "a2"), cim_token).status == 200);
  REQUIRE(cim.post("/v1/pools/CIM/men/release", R"({"count":1,"reason":"removed","op_id":"a3"})", cim_token).status ==
          200);
  CHECK(eventually([&] { return hq.occupied("CIM", "men") == 6; }));
  cib.start();
  CHECK(eventually([&] { return cib.occupied("CIM", "men") == 6; }));
  CHECK(cib.occupied("CIB", "women") == 2);  // its own records came back from its store

  // CIM loses its disk: it comes back as a new epoch and recovers the old
  // epoch's records from its peers; nothing is counted twice.
  cim.stop();
  std::filesystem::remove_all(cim.info.data_dir);
  cim.start();
  CHECK(eventually([&] { return cim.occupied("CIM", "men") == 6; }));
  REQUIRE(cim.post("/v1/pools/CIM/men/release", R"({"count":2,"reason":"removed","op_id":"a4"})", cim_token).status ==
          200);
  CHECK(eventually([&] {
    return hq.occupied("CIM", "men") == 4 && cib.occupied("CIM", "men") == 4 && cim.occupied("CIM", "men") == 4;
  }));
}
