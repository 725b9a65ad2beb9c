// Records flowing between real placemeshd processes on loopback: eager push,
// catch-up after a node was down, and a node that lost its disk recovering
// its old records from its peers. (The full campaign with partitions and the
// simulator is the replication issue's.)
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fstream>

#include "crdt/key.hpp"
#include "net/identity.hpp"
#include "node/roster_signature.hpp"
#include "node/store.hpp"
#include "tests/faults/hostile.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;
using placemesh::faults::AfterHandshake;
using placemesh::faults::Endpoint;
using placemesh::faults::Exchange;
using placemesh::faults::handshake_as;
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

TEST_CASE("replication: a centre's key is changed with the old one retired, and a wiped node still counts the old key's records") {
  // deploy/docs: a node whose disk was lost too often gets a new key, and
  // its old key goes under retired_keys. Before retired keys, a node that
  // had not taken the old key's records before the change refused them for
  // good (their origin was in no roster entry): its board differed.
  TestNetwork network("rekey");
  RunningNode cim(network, "CIM"), cib(network, "CIB"), hq(network, "HQ");
  const std::string cib_token = network.token("cib");
  REQUIRE(cib.request("POST", "/v1/pools/CIB/women/admit", admit(5, "old-key-1"), cib_token).status == 200);
  REQUIRE(eventually([&] { return hq.occupied("CIB", "women") == 5 && cim.occupied("CIB", "women") == 5; }));

  // CIB gets a new key (and a fresh data directory, as after a lost disk).
  cib.stop();
  const auto old_secret = load_key_file(network.dir() / "keys" / "CIB.key");
  REQUIRE(old_secret.ok());
  std::filesystem::remove_all(network.node("CIB").data_dir);
  const auto new_key = SecretKey::generate();
  REQUIRE(new_key.ok());
  std::filesystem::remove(network.dir() / "keys" / "CIB.key");  // write_key_file never overwrites a key
  REQUIRE(write_key_file(network.dir() / "keys" / "CIB.key", *new_key.value(), "node key").ok());
  std::string body(split_signed_roster(read_file(network.dir() / "roster.toml")).value().body);
  const auto key_at = body.find("public_key = \"", body.find("name = \"CIB\"")) + 14;
  const std::string old_key = body.substr(key_at, 64);
  body.replace(key_at, 64, to_hex(new_key.value()->public_key()));
  body.insert(body.find('\n', key_at) + 1, "retired_keys = [\"" + old_key + "\"]\n");
  body.replace(body.find("version = 1"), 11, "version = 2");
  auto admin_key = load_key_file(network.dir() / "keys" / "admin.key");
  REQUIRE(admin_key.ok());
  const std::string v2 = sign_roster(body, *admin_key.value());
  std::ofstream(network.dir() / "roster.toml") << v2;  // what the nodes start from, as an operator does
  REQUIRE(hq.request("POST", "/v1/roster", v2, network.token("admin")).status == 200);
  REQUIRE(eventually([&] { return cim.get("/v1/status")["roster_version"] == 2; }));

  // The retired key may not link: CIM refuses it as a revoked key.
  {
    const auto cim_at = body.find("name = \"CIM\"");
    const auto cim_key_at = body.find("public_key = \"", cim_at) + 14;
    const auto address_at = body.find("address = \"", cim_at) + 11;
    const std::string address = body.substr(address_at, body.find('"', address_at) - address_at);
    const auto colon = address.rfind(':');
    const auto network_at = body.find("network = \"") + 11;
    const Exchange tried = handshake_as(
        Endpoint{address.substr(0, colon), static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)))},
        body.substr(network_at, body.find('"', network_at) - network_at), *old_secret.value(),
        public_key_from_hex(body.substr(cim_key_at, 64)).value(), AfterHandshake::nothing, std::chrono::seconds(5));
    CHECK(tried.connected);
    CHECK(tried.closed_by_peer);
    CHECK(eventually([&] { return cim.get("/v1/status")["rejections"].value("revoked_key", 0) >= 1; }));
  }
  // HQ loses its disk: it starts on version 2 and knows nothing. The old
  // key's records come from CIM, and count as CIB's.
  hq.stop();
  std::filesystem::remove_all(network.node("HQ").data_dir);
  hq.start();
  cib.start();
  CHECK(eventually([&] { return hq.occupied("CIB", "women") == 5 && cib.occupied("CIB", "women") == 5; }));
  // The new key writes on top of them.
  REQUIRE(cib.request("POST", "/v1/pools/CIB/women/admit", admit(1, "new-key-1"), cib_token).status == 200);
  CHECK(eventually([&] {
    return hq.occupied("CIB", "women") == 6 && cim.occupied("CIB", "women") == 6 && cib.occupied("CIB", "women") == 6;
  }));
  // Nothing of the old key was refused on the way.
  CHECK(hq.get("/v1/status")["rejections"].value("not_owner", 0) == 0);
}
