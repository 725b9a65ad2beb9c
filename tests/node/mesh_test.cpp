// The mesh between real placemeshd processes on loopback: links come up,
// a newer roster handed to one node reaches the others, a removed node loses
// its links, and the roster API refuses what it must.
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "net/identity.hpp"
#include "node/roster_signature.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;
using nlohmann::json;

namespace {

constexpr auto deadline = std::chrono::seconds(30);

struct Node {
  Node(const TestNetwork& network, const std::string& name)
      : info(network.node(name)), daemon(info.config, network.dir() / (name + ".log")) {
    std::string why;
    if (!daemon.wait_ready(info.url(), deadline, why)) FAIL(why);
  }
  json status(const std::string& token) const {
    tools::HttpClient client(info.url(), std::chrono::seconds(5));
    auto outcome = client.request("GET", "/v1/status", "", token);
    REQUIRE(outcome.response.has_value());
    return json::parse(outcome.response->body);
  }
  tools::HttpResponse post_roster(const std::string& text, const std::string& token) const {
    tools::HttpClient client(info.url(), std::chrono::seconds(5));
    auto outcome = client.request("POST", "/v1/roster", text, token);
    REQUIRE(outcome.response.has_value());
    return *outcome.response;
  }
  const TestNode& info;
  Daemon daemon;
};

// Polls `check` (a condition on a node's status) until it holds or the deadline passes.
bool eventually(const std::function<bool()>& check) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return check();
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
  Node cim(network, "CIM"), cib(network, "CIB"), hq(network, "HQ");
  REQUIRE(eventually([&] { return peers_up(cim.status(admin)) == 2 && peers_up(hq.status(admin)) == 2; }));

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
    CHECK(hq.post_roster(v2, network.token("viewer")).status == 403);
    CHECK(hq.post_roster(body, admin).status == 400);
    auto other = SecretKey::generate();
    REQUIRE(other.ok());
    const auto foreign = hq.post_roster(sign_roster(body, *other.value()), admin);
    CHECK(foreign.status == 400);
    CHECK(json::parse(foreign.body)["message"].get<std::string>().find("not by this node's admin key") !=
          std::string::npos);
    CHECK(hq.status(admin)["roster_version"] == 1);
    // An older or equal roster changes nothing.
    const auto same = hq.post_roster(v1, admin);
    CHECK(same.status == 200);
    CHECK(json::parse(same.body)["installed"] == false);
  }
  SECTION("handed to HQ, version 2 reaches CIM, and CIB is cut off") {
    const auto answer = hq.post_roster(v2, admin);
    REQUIRE(answer.status == 200);
    CHECK(json::parse(answer.body)["installed"] == true);
    REQUIRE(eventually([&] { return cim.status(admin)["roster_version"] == 2; }));
    REQUIRE(eventually([&] { return peers_up(cib.status(admin)) == 0; }));
    const auto status = cim.status(admin);
    CHECK(status["peers"].size() == 1);  // HQ only: CIB is no longer a peer
    CHECK(peers_up(status) == 1);
    // CIB keeps its own data and API, but nobody links to it any more.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // give a wrongly kept link time to show up
    CHECK(peers_up(cib.status(admin)) == 0);
  }
}
