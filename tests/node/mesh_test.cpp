// The mesh between real placemeshd processes on loopback: links come up,
// a newer roster handed to one node reaches the others, a removed node loses
// its links, and the roster API refuses what it must.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crdt/limits.hpp"
#include "net/identity.hpp"
#include "node/roster.hpp"
#include "node/roster_signature.hpp"
#include "tests/support/handshake_flood.hpp"
#include "tests/support/test_network.hpp"
#include "tools/lab/bench_common.hpp"

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

// A field of a node's [[node]] entry in the written roster.
std::string roster_field(const TestNetwork& network, const std::string& node, const std::string& field) {
  const std::string roster = read_file(network.dir() / "roster.toml");
  const auto at = roster.find("name = \"" + node + "\"");
  const auto value = roster.find(field + " = \"", at) + field.size() + 4;
  return roster.substr(value, roster.find('"', value) - value);
}

}  // namespace

TEST_CASE("mesh: a handshake flood from 16 loopback addresses neither locks a member out nor stalls the API") {
  TestNetwork network("flood");
  std::map<std::string, std::unique_ptr<RunningNode>> nodes;
  for (const char* name : {"CIM", "CIB", "HQ"}) nodes[name] = std::make_unique<RunningNode>(network, name);
  for (const auto& [name, node] : nodes) REQUIRE(eventually([&] { return peers_up(status(*node)) == 2; }));
  // The smaller key dials: the victim is the node with the largest key,
  // which every other node dials, so a restarted peer must get a slot.
  std::string victim = "CIM";
  for (const char* name : {"CIB", "HQ"})
    if (roster_field(network, name, "public_key") > roster_field(network, victim, "public_key")) victim = name;
  const std::string member = victim == "CIM" ? "CIB" : "CIM";  // it dials from 127.0.0.1, a member's host
  const std::string address = roster_field(network, victim, "address");
  const auto port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  std::vector<std::string> sources;
  for (int i = 2; i < 18; ++i) sources.push_back("127.0.0." + std::to_string(i));
  HandshakeFlood flood("127.0.0.1", port, sources, 12);  // 192 connections held: three times the shared slots

  auto refused = [&] {
    const json rejections = status(*nodes[victim])["rejections"];
    return rejections.value("handshake_slots_full", 0) + rejections.value("handshake_rate", 0);
  };
  REQUIRE(eventually([&] { return refused() > 0; }));
  nodes[member]->stop();
  nodes[member]->start();
  CHECK(eventually([&] { return peers_up(status(*nodes[member])) == 2; }, std::chrono::seconds(15)));
  // The victim's API answers all along.
  for (int i = 0; i < 20; ++i) CHECK(nodes[victim]->request("GET", "/v1/board", "", network.token("viewer")).status == 200);
  CHECK(peers_up(status(*nodes[victim])) == 2);
  CHECK(flood.opened() > 192);  // the node kept closing them, and the flood kept coming
}

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

TEST_CASE("mesh: a signed hand-over moves every node to a new admin key, also one that was down when it was given") {
  TestNetwork network("handover");
  const std::string admin = network.token("admin");
  RunningNode cim(network, "CIM"), cib(network, "CIB"), hq(network, "HQ");
  REQUIRE(eventually([&] { return peers_up(status(cim)) == 2 && peers_up(status(hq)) == 2; }));
  auto old_admin = load_key_file(network.dir() / "keys" / "admin.key");
  auto new_admin = SecretKey::generate();
  REQUIRE((old_admin.ok() && new_admin.ok()));
  const std::string new_hex = to_hex(new_admin.value()->public_key());
  const std::string body(split_signed_roster(read_file(network.dir() / "roster.toml")).value().body);
  auto version = [&](int number) {
    std::string text = body;
    text.replace(text.find("version = 1"), 11, "version = " + std::to_string(number));
    return text;
  };
  auto parsed = parse_roster(body, "roster");
  REQUIRE(parsed.ok());
  const Handover handover = sign_handover(*old_admin.value(), new_admin.value()->public_key(), parsed.value().network);

  cib.stop();  // it misses version 2, the hand-over itself
  const auto given = post_roster(hq, sign_roster(version(2), *new_admin.value(), handover), admin);
  REQUIRE(given.status == 200);
  CHECK(json::parse(given.body)["installed"] == true);
  REQUIRE(eventually([&] { return status(cim)["roster_version"] == 2; }));
  CHECK(status(cim)["admin_key"] == new_hex);
  CHECK(status(hq)["admin_key"] == new_hex);

  // The old key is retired: its rosters are refused, even a newer one.
  const auto old_key = post_roster(hq, sign_roster(version(3), *old_admin.value()), admin);
  CHECK(old_key.status == 400);
  CHECK(json::parse(old_key.body)["message"].get<std::string>().find("no longer trusts") != std::string::npos);
  // The new key signs version 3, keeping the hand-over; CIB, back on the
  // old key, takes it from a peer and follows the new key too.
  REQUIRE(post_roster(hq, sign_roster(version(3), *new_admin.value(), handover), admin).status == 200);
  cib.start();
  REQUIRE(eventually([&] { return status(cib)["roster_version"] == 3; }));
  CHECK(status(cib)["admin_key"] == new_hex);
  CHECK(eventually([&] { return peers_up(status(cib)) == 2; }));
  // And it still follows after a restart with its config naming the old key.
  cib.stop();
  cib.start();
  const auto restarted = status(cib);
  CHECK(restarted["roster_version"] == 3);
  CHECK(restarted["admin_key"] == new_hex);
}
