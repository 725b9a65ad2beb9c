// The mesh between real placemeshd processes on loopback: links come up,
// a newer roster handed to one node reaches the others, a removed node loses
// its links, and the roster API refuses what it must.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crdt/limits.hpp"
#include "net/identity.hpp"
#include "node/roster_signature.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;
using nlohmann::json;

namespace {

json status(const RunningNode& node) { return node.get("/v1/status"); }

tools::HttpResponse post_roster(const RunningNode& node, const std::string& text, const std::string& token) {
  return node.request("POST", "/v1/roster", text, token);
}

int peers_up(const json& status) {
  int up = 0;
  for (const auto& peer : status["peers"]) up += peer["state"] == "up";
  return up;
}

}  // namespace

TEST_CASE("mesh: nodes link up, a newer roster spreads from one node, and a removed node loses its links") {
  TestNetwork network("mesh");
  const std::string admin = network.token("admin");
  RunningNode cim(network, "CIM"), cib(network, "CIB"), hq(network, "HQ");
  REQUIRE(eventually([&] { return peers_up(status(cim)) == 2 && peers_up(status(hq)) == 2; }));

  // Version 2 removes CIB and revokes its key.
  const std::string v1 = read_file(network.dir() / "roster.toml");
  std::string body(split_signed_roster(v1).value().body);
  const auto cib_at = body.find("name = \"CIB\"");
  const auto block_start = body.rfind("[[node]]", cib_at);
  const auto block_end = body.find("[[node]]", cib_at);
  const auto key_at = body.find("public_key = \"", cib_at) + 14;
  const std::string cib_key = body.substr(key_at, 64);
  body.erase(block_start, block_end - block_start);
  body.replace(body.find("version = 1"), 11, "version = 2\nrevoked = [\"" + cib_key + "\"]");
  auto admin_key = load_key_file(network.dir() / "keys" / "admin.key");
  REQUIRE(admin_key.ok());
  const std::string v2 = sign_roster(body, *admin_key.value());

  SECTION("the roster API refuses a viewer, an unsigned roster and a roster signed by another key") {
    CHECK(post_roster(hq, v2, network.token("viewer")).status == 403);
    CHECK(post_roster(hq, body, admin).status == 400);
    auto other = SecretKey::generate();
    REQUIRE(other.ok());
    const auto foreign = post_roster(hq, sign_roster(body, *other.value()), admin);
    CHECK(foreign.status == 400);
    CHECK(json::parse(foreign.body)["message"].get<std::string>().find("not by this node's admin key") !=
          std::string::npos);
    CHECK(status(hq)["roster_version"] == 1);
    // A version too far ahead is refused (a stolen admin key must not
    // sign a last version), one at the cap would be taken.
    std::string far = body;
    far.replace(far.find("version = 2"), 11, "version = " + std::to_string(2 + limits::roster_version_jump_max));
    const auto too_far = post_roster(hq, sign_roster(far, *admin_key.value()), admin);
    CHECK(too_far.status == 400);
    CHECK(json::parse(too_far.body)["message"].get<std::string>().find("more than 1000 past the installed version 1") !=
          std::string::npos);
    CHECK(status(hq)["roster_version"] == 1);
    // An older or equal roster changes nothing.
    const auto same = post_roster(hq, v1, admin);
    CHECK(same.status == 200);
    CHECK(json::parse(same.body)["installed"] == false);
  }
  SECTION("a roster exactly roster_version_jump_max ahead is installed") {
    std::string at_cap = body;
    at_cap.replace(at_cap.find("version = 2"), 11, "version = " + std::to_string(1 + limits::roster_version_jump_max));
    const auto answer = post_roster(hq, sign_roster(at_cap, *admin_key.value()), admin);
    REQUIRE(answer.status == 200);
    CHECK(status(hq)["roster_version"] == 1 + limits::roster_version_jump_max);
  }
  SECTION("handed to HQ, version 2 reaches CIM, and CIB is cut off") {
    const auto answer = post_roster(hq, v2, admin);
    REQUIRE(answer.status == 200);
    CHECK(json::parse(answer.body)["installed"] == true);
    REQUIRE(eventually([&] { return status(cim)["roster_version"] == 2; }));
    REQUIRE(eventually([&] { return peers_up(status(cib)) == 0; }));
    const auto at_cim = status(cim);
    CHECK(at_cim["peers"].size() == 1);  // HQ only: CIB is no longer a peer
    CHECK(peers_up(at_cim) == 1);
  }
}
