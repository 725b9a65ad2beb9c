// placemeshctl against a real node: the commands an operator uses, their
// output, and the exit codes scripts rely on (0 ok, 1 refused, 2 usage,
// 3 node unreachable).

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/support/run_command.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;

namespace {

Ran ctl(const std::string& args) { return run_command(std::string(PLACEMESHCTL_PATH) + " " + args); }

}  // namespace

TEST_CASE("ctl: status, peers, board, whoami, metrics and operations, with the exit codes scripts rely on") {
  TestNetwork network("ctl");
  RunningNode cim(network, "CIM"), hq(network, "HQ");
  const std::string at_cim = "--api http://127.0.0.1:" + std::to_string(cim.info().api_port) + " --token " +
                             network.token("cim");
  const std::string at_hq = "--api http://127.0.0.1:" + std::to_string(hq.info().api_port) + " --token " +
                            network.token("viewer");

  auto admitted = ctl(at_cim + " admit CIM/men -n 3");
  INFO(admitted.output);
  CHECK(admitted.code == 0);
  CHECK(admitted.output.find("admit 3 at CIM/men") != std::string::npos);

  auto refused = ctl(at_cim + " release CIM/men -n 9 --reason removed");
  CHECK(refused.code == 1);
  CHECK(refused.output.find("refused (409") != std::string::npos);

  REQUIRE(eventually([&] { return hq.occupied("CIM", "men") == 3; }));
  auto board = ctl(at_hq + " board");
  CHECK(board.code == 0);
  CHECK(board.output.find("CIM") != std::string::npos);
  auto as_json = ctl(at_hq + " board --json");  // global options after the command too
  CHECK(as_json.code == 0);
  CHECK(nlohmann::json::parse(as_json.output)["node"] == "HQ");

  auto peers = ctl(at_hq + " peers");
  CHECK(peers.code == 0);
  CHECK(peers.output.find("RESYNCS") != std::string::npos);
  CHECK(peers.output.find("CIM") != std::string::npos);
  CHECK(ctl(at_hq + " status").code == 0);

  auto who = ctl(at_cim + " whoami");
  CHECK(who.output.find("role operator for centre CIM, at node CIM") != std::string::npos);
  auto metrics = ctl(at_hq + " metrics");
  CHECK(metrics.code == 0);
  CHECK(metrics.output.find("placemesh_peer_up{peer=\"CIM\"} 1") != std::string::npos);

  CHECK(ctl("--api http://127.0.0.1:" + std::to_string(hq.info().api_port) + " --token pm_wrong board").code == 1);
  CHECK(ctl("--api http://127.0.0.1:1 --token x board").code == 3);
  CHECK(ctl("admit").code == 2);
  CHECK(ctl("--api not-a-url --token x board").code == 2);
}

TEST_CASE("ctl: every command's --help ends with examples") {
  for (const char* command : {"status", "peers", "board", "whoami", "metrics", "admit", "release", "block", "unblock",
                              "operational", "inspect", "verify", "keygen", "admin-keygen", "token", "roster",
                              "quickstart"}) {
    INFO(command);
    const auto help = ctl(std::string(command) + " --help");
    CHECK(help.code == 0);
    CHECK(help.output.find("Examples:") != std::string::npos);
  }
}

TEST_CASE("ctl: roster sign --handover-from hands the old admin key over, and signing again keeps the hand-over") {
  TestNetwork network("ctlsign");
  const auto dir = network.dir();
  const std::string roster = (dir / "roster.toml").string(), old_key = (dir / "keys" / "admin.key").string(),
                    new_key = (dir / "keys" / "admin2.key").string();
  const std::string signed_v1 = read_file(dir / "roster.toml");
  const auto key_at = signed_v1.find("admin_key = \"");
  REQUIRE(key_at != std::string::npos);
  const std::string old_public = signed_v1.substr(key_at + 13, 64);
  REQUIRE(ctl("admin-keygen --out " + new_key).code == 0);
  auto as_old_key_node = [&](const std::string& file) {
    return ctl("roster verify --in " + file + " --admin-public-key " + old_public);
  };

  const std::string handed = (dir / "handed.toml").string();
  auto signed_over = ctl("roster sign --admin-key " + new_key + " --handover-from " + old_key + " --in " + roster +
                         " --out " + handed);
  INFO(signed_over.output);
  CHECK(signed_over.code == 0);
  CHECK(signed_over.output.find("handed over from " + old_public) != std::string::npos);
  auto verified = as_old_key_node(handed);
  CHECK(verified.code == 0);
  CHECK(verified.output.find("handed over from " + old_public + " (valid)") != std::string::npos);

  const std::string again = (dir / "again.toml").string();
  auto resigned = ctl("roster sign --admin-key " + new_key + " --in " + handed + " --out " + again);
  CHECK(resigned.output.find("keeping the hand-over from " + old_public) != std::string::npos);
  CHECK(as_old_key_node(again).code == 0);

  // Without the hand-over, a node on the old key refuses the new key's roster.
  const std::string bare = (dir / "bare.toml").string();
  REQUIRE(ctl("roster sign --admin-key " + new_key + " --in " + roster + " --out " + bare).code == 0);
  auto refused = as_old_key_node(bare);
  CHECK(refused.code == 1);
  CHECK(refused.output.find("carries no hand-over") != std::string::npos);
  CHECK(ctl("roster sign --admin-key " + new_key + " --handover-from " + new_key + " --in " + roster + " --out " + bare)
            .code == 2);
}

TEST_CASE("ctl: roster show names each node's retired keys and the revoked ones, also as JSON") {
  TestNetwork network("ctlshow");
  const auto dir = network.dir();
  const std::string retired(64, 'c'), revoked(64, 'd');
  std::string body = read_file(dir / "roster.toml");
  body = body.substr(0, body.find("[signature]"));
  const auto at = body.find('\n', body.find("public_key = \"", body.find("name = \"CIB\""))) + 1;
  body.insert(at, "retired_keys = [\"" + retired + "\"]\n");
  body.replace(body.find("version = 1"), 11, "version = 2\nrevoked = [\"" + revoked + "\"]");
  std::ofstream(dir / "edited.toml") << body;
  const auto shown = ctl("roster show --in " + (dir / "edited.toml").string());
  CHECK(shown.code == 0);  // showing an unsigned roster is not a failure
  CHECK_THAT(shown.output, Catch::Contains("unsigned"));
  CHECK_THAT(shown.output, Catch::Contains("retired   " + retired + " (an earlier key of CIB"));
  CHECK_THAT(shown.output, Catch::Contains("revoked   " + revoked));
  const auto as_json = ctl("roster show --json --in " + (dir / "edited.toml").string());
  CHECK_THAT(as_json.output, Catch::Contains("\"retired_keys\": [\n        \"" + retired));
  CHECK_THAT(as_json.output, Catch::Contains("\"revoked\": [\n    \"" + revoked));
}
