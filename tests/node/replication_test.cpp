// Records flowing between real placemeshd processes on loopback: eager push,
// catch-up after a node was down, and a node that lost its disk recovering
// its old records from its peers. (The full campaign with partitions and the
// simulator is the replication issue's.)
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "crdt/key.hpp"
#include "node/store.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;
using nlohmann::json;

namespace {

std::string admit(int count, const std::string& op_id) {
  return json{{"count", count}, {"op_id", op_id}}.dump();
}

}  // namespace

TEST_CASE("replication: every node converges on each centre's figures, also after downtime and a lost disk") {
  TestNetwork network("replication");
  RunningNode cim(network, "CIM"), cib(network, "CIB"), hq(network, "HQ");
  const std::string cim_token = network.token("cim"), cib_token = network.token("cib");

  REQUIRE(cim.request("POST", "/v1/pools/CIM/men/admit", admit(4, "a1"), cim_token).status == 200);
  REQUIRE(cib.request("POST", "/v1/pools/CIB/women/admit", admit(2, "b1"), cib_token).status == 200);
  CHECK(eventually([&] { return hq.occupied("CIM", "men") == 4 && hq.occupied("CIB", "women") == 2; }));
  CHECK(eventually([&] { return cib.occupied("CIM", "men") == 4 && cim.occupied("CIB", "women") == 2; }));

  // CIB is down while CIM records more; it catches up when it is back.
  auto cib_link_at_hq = [&] {
    const json status = hq.get("/v1/status");
    for (const auto& peer : status["peers"])
      if (peer["name"] == "CIB") return peer["state"].get<std::string>();
    return std::string("missing");
  };
  REQUIRE(eventually([&] { return cib_link_at_hq() == "up"; }));
  cib.stop();
  REQUIRE(cim.request("POST", "/v1/pools/CIM/men/admit", admit(3, "a2"), cim_token).status == 200);
  REQUIRE(cim.request("POST", "/v1/pools/CIM/men/release", R"({"count":1,"reason":"removed","op_id":"a3"})", cim_token).status ==
          200);
  CHECK(eventually([&] { return hq.occupied("CIM", "men") == 6; }));
  auto cib_behind_at_hq = [&] {
    const json status = hq.get("/v1/status");
    for (const auto& peer : status["peers"])
      if (peer["name"] == "CIB") return peer["behind_seqs"].value("CIM", std::uint64_t{0});
    return std::uint64_t{99};
  };
  CHECK(cib_behind_at_hq() >= 2);  // HQ sees that CIB missed CIM's two operations
  CHECK(hq.metric(R"(placemesh_peer_behind_seqs{origin="CIM",peer="CIB"})") >= 2.0);
  CHECK(hq.metric(R"(placemesh_peer_up{peer="CIB"})") == 0.0);
  CHECK(hq.metric(R"(placemesh_peer_up{peer="CIM"})") == 1.0);
  // a2 and a3 had only the CIM–HQ link to travel: pushed one by one, or as
  // the one latest record of their slot if the link was redialled meanwhile.
  CHECK(hq.metric(R"(placemesh_peer_records_received_total{peer="CIM"})") >= 1.0);
  {
    // Its own admissions are in its own store (peers never hand a node its own records).
    auto store = Store::open_read_only(cib.info().data_dir);
    REQUIRE(store.ok());
    auto loaded = store.value()->load();
    REQUIRE(loaded.ok());
    CHECK(loaded.value().ledger.counter_total(occupied_key("CIB/women")) == Counter{2, 0});
  }
  cib.start();
  CHECK(eventually([&] { return cib.occupied("CIM", "men") == 6; }));
  CHECK(cib.occupied("CIB", "women") == 2);
  CHECK(eventually([&] { return cib_behind_at_hq() == 0; }));

  // CIM loses its disk: it comes back as a new epoch and recovers the old
  // epoch's records from its peers; nothing is counted twice.
  cim.stop();
  std::filesystem::remove_all(cim.info().data_dir);
  cim.start();
  CHECK(eventually([&] { return cim.occupied("CIM", "men") == 6; }));
  // Its peers sent it whole origins it knew nothing of: full resyncs.
  CHECK(eventually([&] {
    return hq.metric(R"(placemesh_peer_full_resyncs_total{peer="CIM"})").value_or(0) +
               cib.metric(R"(placemesh_peer_full_resyncs_total{peer="CIM"})").value_or(0) >=
           1.0;
  }));
  REQUIRE(cim.request("POST", "/v1/pools/CIM/men/release", R"({"count":2,"reason":"removed","op_id":"a4"})", cim_token).status ==
          200);
  CHECK(eventually([&] {
    return hq.occupied("CIM", "men") == 4 && cib.occupied("CIM", "men") == 4 && cim.occupied("CIM", "men") == 4;
  }));
}
