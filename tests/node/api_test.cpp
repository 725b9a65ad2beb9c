// The HTTP API of a real placemeshd process: every rejection the issue
// lists, authentication, idempotent replay, and what survives a restart.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "net/identity.hpp"
#include "node/roster_signature.hpp"
#include "node/store.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;
using nlohmann::json;

namespace {

constexpr auto deadline = std::chrono::seconds(20);

}  // namespace

TEST_CASE("api: requests without a valid token get 401 as JSON") {
  TestNetwork network("auth");
  RunningNode cim(network, "CIM");
  for (const std::string& token : {std::string(), std::string("pm_not-a-token")}) {
    const auto response = cim.request("GET", "/v1/board", "", token);
    CHECK(response.status == 401);
    CHECK(response.headers.at("www-authenticate").find("Bearer") == 0);
    CHECK(body_of(response)["error"] == "unauthorized");
  }
  CHECK(cim.request("GET", "/healthz", "", "").status == 200);
  CHECK(cim.request("GET", "/v1/board", "", network.token("viewer")).status == 200);
  CHECK(cim.request("GET", "/v1/board", "", "").status == 401);
  CHECK(cim.request("GET", "/nothing", "", "").status == 404);
  // Invalid UTF-8 in a path still gets a JSON answer (the error quotes the path).
  const auto garbled = cim.request("GET", "/v1/\xff\xfe", "", network.token("viewer"));
  CHECK(garbled.status == 404);
  CHECK(body_of(garbled)["error"] == "malformed");
}

TEST_CASE("api: roles decide who may record changes (403 as JSON)") {
  TestNetwork network("roles");
  RunningNode cim(network, "CIM");
  const std::string path = "/v1/pools/CIM/men/admit";
  SECTION("a viewer or dispatcher only reads") {
    for (const char* name : {"viewer", "dispatcher"}) {
      const auto response = cim.request("POST", path, R"({"count":1})", network.token(name));
      CHECK(response.status == 403);
      CHECK(body_of(response)["error"] == "forbidden");
    }
  }
  SECTION("an operator only changes its own centre") {
    const auto response = cim.request("POST", path, R"({"count":1})", network.token("cib"));
    CHECK(response.status == 403);
    CHECK(body_of(response)["message"].get<std::string>().find("operator of CIB") != std::string::npos);
  }
  SECTION("the operator of the centre and an admin may") {
    CHECK(cim.request("POST", path, R"({"count":1})", network.token("cim")).status == 200);
    CHECK(cim.request("POST", path, R"({"count":1})", network.token("admin")).status == 200);
    CHECK(cim.occupied("CIM", "men") == 2);
  }
  CHECK(cim.occupied("CIM", "men") <= 2);
}

TEST_CASE("api: only the owning centre's node accepts its operations") {
  TestNetwork network("owner");
  RunningNode hq(network, "HQ");
  const auto response = hq.request("POST", "/v1/pools/CIM/men/admit", R"({"count":1})", network.token("admin"));
  CHECK(response.status == 403);
  const auto body = body_of(response);
  CHECK(body["error"] == "not_owner");
  CHECK(body["message"].get<std::string>().find("not the owner") != std::string::npos);
  CHECK(body["message"].get<std::string>().find("belongs to node CIM") != std::string::npos);
  CHECK(hq.occupied("CIM", "men") == 0);
}

TEST_CASE("api: bad requests are refused with the field named and change nothing") {
  TestNetwork network("bad");
  RunningNode cim(network, "CIM");
  const std::string token = network.token("cim");
  struct Case {
    std::string path, body;
    int status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/v1/pools/CIM/women/admit", R"({"count":1})", 404, ""},
      {"/v1/pools/NOPE/men/admit", R"({"count":1})", 404, ""},
      {"/v1/pools/CIM/men/explode", R"({"count":1})", 404, ""},
      {"/v1/pools/CIM/men/admit", R"({"count":1)", 400, "body"},
      {"/v1/pools/CIM/men/admit", R"([1])", 400, "body"},
      {"/v1/pools/CIM/men/admit", R"({"count":0})", 400, "count"},
      {"/v1/pools/CIM/men/admit", R"({"count":-3})", 400, "count"},
      {"/v1/pools/CIM/men/admit", R"({"count":10001})", 400, "count"},
      {"/v1/pools/CIM/men/admit", R"({"count":1.5})", 400, "count"},
      {"/v1/pools/CIM/men/admit", R"({"count":"1"})", 400, "count"},
      {"/v1/pools/CIM/men/admit", R"({"count":99999999999999999999})", 400, "count"},
      {"/v1/pools/CIM/men/admit", R"({"cuont":1})", 400, "cuont"},
      {"/v1/pools/CIM/men/admit", R"({"count":1,"op_id":""})", 400, "op_id"},
      {"/v1/pools/CIM/men/admit", R"({"count":1,"op_id":"has space"})", 400, "op_id"},
      {"/v1/pools/CIM/men/admit", R"({"count":1,"op_id":7})", 400, "op_id"},
      {"/v1/pools/CIM/men/release", R"({"count":1})", 400, "reason"},
      {"/v1/pools/CIM/men/block", R"({"count":1,"reason":"because"})", 400, "reason"},
      {"/v1/pools/CIM/men/operational", R"({})", 400, "value"},
      {"/v1/pools/CIM/men/operational", R"({"value":100001})", 400, ""},
      {"/v1/pools/CIM/men/release", R"({"count":1,"reason":"removed"})", 409, ""},
      {"/v1/pools/CIM/men/unblock", R"({"count":1,"reason":"damage"})", 409, ""},
  };
  for (const auto& c : cases) {
    INFO(c.path << " " << c.body);
    const auto response = cim.request("POST", c.path, c.body, token);
    if (c.status != 0) CHECK(response.status == c.status);
    else CHECK(response.status == 400);
    const auto body = body_of(response);
    CHECK(body["ok"] == false);
    CHECK_FALSE(body["message"].get<std::string>().empty());
    if (!c.field.empty()) CHECK(body["field"] == c.field);
  }
  SECTION("a body over the limit gets 413") {
    const std::string big = R"({"count":1,"reason":")" + std::string(20'000, 'x') + R"("})";
    CHECK(cim.request("POST", "/v1/pools/CIM/men/admit", big, token).status == 413);
  }
  SECTION("a wrong method gets 405, an unknown path 404") {
    CHECK(cim.request("GET", "/v1/pools/CIM/men/admit", "", token).status == 405);
    CHECK(cim.request("POST", "/v1/board", "{}", token).status == 405);
    CHECK(cim.request("GET", "/v1/nothing", "", token).status == 404);
  }
  const auto board = body_of(cim.request("GET", "/v1/board", "", token));
  const auto& pool = board["centres"][0]["pools"][0];
  CHECK(pool["occupied"] == 0);
  CHECK(pool["blocked"] == 0);
  CHECK(pool["operational"] == 110);
  const auto status = body_of(cim.request("GET", "/v1/status", "", token));
  CHECK(status["operations"] == 0);
}

TEST_CASE("api: a wrong method on any route gets 405 with Allow, by one rule") {
  TestNetwork network("methods");
  RunningNode cim(network, "CIM");
  const std::string token = network.token("admin");
  struct Case {
    std::string path, allowed;
  };
  for (const Case& route : {Case{"/", "GET"}, Case{"/index.html", "GET"}, Case{"/healthz", "GET"},
                            Case{"/metrics", "GET"}, Case{"/v1/board", "GET"}, Case{"/v1/events", "GET"},
                            Case{"/v1/status", "GET"}, Case{"/v1/session", "GET"}, Case{"/v1/roster", "POST"},
                            Case{"/v1/pools/CIM/men/admit", "POST"}}) {
    for (const std::string method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
      if (method == route.allowed) continue;
      INFO(method << " " << route.path);
      const auto response = cim.request(method, route.path, method == "GET" ? "" : "{}", token);
      CHECK(response.status == 405);
      CHECK(response.headers.at("allow") == route.allowed);
      CHECK(body_of(response)["error"] == "malformed");
      CHECK_THAT(body_of(response)["message"].get<std::string>(), Catch::Contains("accepts " + route.allowed));
    }
  }
  // Without a token, everything under /v1 is 401 first, whatever the method.
  CHECK(cim.request("POST", "/v1/board", "{}", "").status == 401);
  // Nothing was recorded by any of it.
  CHECK(cim.get("/v1/status")["operations"] == 0);
}

TEST_CASE("api: a repeated op_id returns the first answer and counts once") {
  TestNetwork network("replay");
  RunningNode cim(network, "CIM");
  const std::string token = network.token("cim");
  const auto first = cim.request("POST", "/v1/pools/CIM/men/admit", R"({"count":3,"op_id":"desk-1-0001"})", token);
  REQUIRE(first.status == 200);
  const auto again = cim.request("POST", "/v1/pools/CIM/men/admit", R"({"count":3,"op_id":"desk-1-0001"})", token);
  CHECK(again.status == 200);
  CHECK(again.body == first.body);
  CHECK(again.headers.at("x-placemesh-replay") == "true");
  // The same op_id for another operation is refused, never applied.
  const auto changed = cim.request("POST", "/v1/pools/CIM/men/admit", R"({"count":5,"op_id":"desk-1-0001"})", token);
  CHECK(changed.status == 409);
  CHECK(body_of(changed)["error"] == "op_id_reused");
  const auto other_pool =
      cim.request("POST", "/v1/pools/CIM/men/release", R"({"count":3,"reason":"x","op_id":"desk-1-0001"})", token);
  CHECK(other_pool.status == 409);
  CHECK(cim.occupied("CIM", "men") == 3);

  SECTION("concurrent retries of one op_id are applied once") {
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] {
        tools::HttpClient client(cim.info().url(), deadline);
        auto outcome = client.request("POST", "/v1/pools/CIM/men/admit", R"({"count":1,"op_id":"burst"})", token);
        if (outcome.response && outcome.response->status == 200) ++ok;
      });
    for (auto& thread : threads) thread.join();
    CHECK(ok == 8);
    CHECK(cim.occupied("CIM", "men") == 4);
  }
}

TEST_CASE("api: the board and status carry the documented fields") {
  TestNetwork network("fields");
  RunningNode cib(network, "CIB");
  const std::string token = network.token("cib");
  REQUIRE(cib.request("POST", "/v1/pools/CIB/women/operational", R"({"value":30})", token).status == 200);
  REQUIRE(cib.request("POST", "/v1/pools/CIB/women/admit", R"({"count":31})", token).status == 200);
  REQUIRE(cib.request("POST", "/v1/pools/CIB/women/block", R"({"count":2,"reason":"damage"})", token).status == 200);
  // A free-text reason is escaped in the receipt (and the audit line).
  const auto release =
      cib.request("POST", "/v1/pools/CIB/women/release", R"({"count":1,"reason":"moved \"north\"\n\\ é"})", token);
  INFO(release.body);
  REQUIRE(release.status == 200);
  CHECK(body_of(release)["reason"] == "moved \"north\"\n\\ é");
  REQUIRE(cib.request("POST", "/v1/pools/CIB/women/admit", R"({"count":1})", token).status == 200);
  const auto board = body_of(cib.request("GET", "/v1/board", "", network.token("viewer")));
  CHECK(board.contains("generated_at"));
  REQUIRE(board["centres"].size() == 2);
  const auto& centre = board["centres"][1];
  CHECK(centre["centre"] == "CIB");
  CHECK(centre["name"] == "Bruges");
  CHECK(centre["as_of"].is_number());
  CHECK(centre["last_heard_ms"].is_number());
  CHECK(board["centres"][0]["as_of"].is_null());  // CIM's node is not running
  const auto& women = centre["pools"][1];
  CHECK(women["pool"] == "women");
  CHECK(women["category"] == "women");
  CHECK(women["design"] == 32);
  CHECK(women["operational"] == 30);
  CHECK(women["occupied"] == 31);
  CHECK(women["blocked"] == 2);
  CHECK(women["reserved"] == 0);
  CHECK(women["available"] == -3);  // shown, never clamped
  CHECK(women["overbooked"] == 3);
  CHECK(board["totals"]["women"]["available"] == -3);
  CHECK(board["totals"]["men"]["available"] == 190);
  const auto status = body_of(cib.request("GET", "/v1/status", "", network.token("viewer")));
  for (const char* field : {"node", "origin", "epoch", "seq", "store", "state"}) CHECK(status.contains(field));
  CHECK(status["node"] == "CIB");
  CHECK(status["state"] == "ok");
  CHECK(status["store"]["used_bytes"].get<std::int64_t>() > 0);
}

TEST_CASE("api: /metrics is valid Prometheus text with the store, operations and answers") {
  TestNetwork network("metrics");
  RunningNode cib(network, "CIB");
  const std::string token = network.token("cib");
  for (int i = 0; i < 3; ++i)
    REQUIRE(cib.request("POST", "/v1/pools/CIB/women/admit", R"({"count":1})", token).status == 200);
  REQUIRE(cib.request("POST", "/v1/pools/CIB/women/release", R"({"count":9,"reason":"removed"})", token).status == 409);
  const auto response = cib.request("GET", "/metrics", "", "");  // no token, as scrapers expect
  REQUIRE(response.status == 200);
  // The exposition format: families announced once by HELP and TYPE before
  // their samples; each sample `name{label="value",...} number`.
  const std::regex sample(R"(^([a-z_]+)(\{[a-z_]+="[^"\n]*"(,[a-z_]+="[^"\n]*")*\})? (-?[0-9.e+-]+|\+Inf|NaN)$)");
  std::set<std::string> typed;
  std::istringstream lines(response.body);
  std::string line;
  std::size_t samples = 0;
  while (std::getline(lines, line)) {
    INFO(line);
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string family = line.substr(7, line.find(' ', 7) - 7);
      CHECK(typed.insert(family).second);
      continue;
    }
    std::smatch match;
    REQUIRE(std::regex_match(line, match, sample));
    std::string family = match[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"})
      if (!typed.contains(family) && family.ends_with(suffix)) family.resize(family.size() - std::strlen(suffix));
    CHECK(typed.contains(family));
    ++samples;
  }
  CHECK(samples > 20);
  CHECK(cib.metric(R"(placemesh_operations_total{result="applied"})") == 3.0);
  CHECK(cib.metric(R"(placemesh_operations_total{result="refused"})") == 1.0);
  CHECK(cib.metric(R"(placemesh_http_responses_total{code="409"})") == 1.0);
  CHECK(cib.metric("placemesh_store_read_only") == 0.0);
  // Every commit lands in one bucket: the +Inf bucket counts them all.
  const auto status = body_of(cib.request("GET", "/v1/status", "", token));
  const auto commits = static_cast<double>(status["store"]["commits"].get<std::uint64_t>());
  CHECK(cib.metric(R"(placemesh_store_commit_seconds_bucket{le="+Inf"})") >= commits);
  CHECK(cib.metric("placemesh_store_commit_seconds_count") >= commits);
  CHECK(cib.metric("placemesh_store_used_bytes") > 0.0);
}

// A regression test: the fault campaign's writers keep their connections
// open, and under ASan every such stop was a heap-use-after-free in
// RESTinio's connection limiter (the server was freed before the
// connections still waiting in the io_context).
TEST_CASE("api: a node stopped while clients hold keep-alive connections exits cleanly") {
  TestNetwork network("keepalive");
  RunningNode cim(network, "CIM");
  std::vector<std::unique_ptr<tools::HttpClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<tools::HttpClient>(cim.info().url(), std::chrono::seconds(5)));
    const auto outcome = clients.back()->request("GET", "/v1/board", "", network.token("viewer"));
    REQUIRE(outcome.response.has_value());
    REQUIRE(outcome.response->status == 200);
  }
  // Admissions in flight when the signal comes, so the node drains a while
  // with its API closed, as it did in the campaign.
  std::atomic<bool> writing{true};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w)
    writers.emplace_back([&, w] {
      tools::HttpClient client(cim.info().url(), std::chrono::seconds(5));
      for (int i = 0; writing; ++i)
        if (!client.request("POST", "/v1/pools/CIM/men/admit",
                            R"({"op_id":"k-)" + std::to_string(w) + "-" + std::to_string(i) + R"("})",
                            network.token("cim"))
                 .response)
          break;
    });
  REQUIRE(eventually([&] { return cim.occupied("CIM", "men") >= 30; }));
  cim.daemon().signal(SIGTERM);
  const auto status = cim.daemon().wait_exit(deadline);
  writing = false;
  for (auto& writer : writers) writer.join();
  REQUIRE(status.has_value());
  const auto log = read_file(network.dir() / "CIM.log");
  INFO(log);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(log.find("stopped cleanly") != std::string::npos);
  CHECK(log.find("AddressSanitizer") == std::string::npos);
}

TEST_CASE("api: data, op_ids and the audit log survive a clean restart") {
  TestNetwork network("restart");
  const std::string token = network.token("cim");
  std::string first;
  std::uint64_t epoch = 0;
  {
    RunningNode cim(network, "CIM");
    const auto response = cim.request("POST", "/v1/pools/CIM/men/admit", R"({"count":2,"op_id":"r-1"})", token);
    REQUIRE(response.status == 200);
    first = response.body;
    epoch = body_of(cim.request("GET", "/v1/status", "", token))["epoch"].get<std::uint64_t>();
    cim.daemon().signal(SIGTERM);
    const auto status = cim.daemon().wait_exit(deadline);
    REQUIRE(status.has_value());
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
  }
  RunningNode cim(network, "CIM");
  CHECK(cim.occupied("CIM", "men") == 2);
  CHECK(cim.request("POST", "/v1/pools/CIM/men/admit", R"({"count":2,"op_id":"r-1"})", token).body == first);
  CHECK(cim.occupied("CIM", "men") == 2);
  const auto status = body_of(cim.request("GET", "/v1/status", "", token));
  CHECK(status["epoch"].get<std::uint64_t>() == epoch);
  CHECK(status["seq"].get<std::uint64_t>() >= 2);
  cim.daemon().signal(SIGTERM);
  REQUIRE(cim.daemon().wait_exit(deadline).has_value());
  const auto log = read_file(network.node("CIM").config.parent_path() / "CIM.log");
  CHECK(log.find("stopped cleanly") != std::string::npos);
  // The audit log stays on the node and names the token and the result.
  auto store = Store::open_read_only(network.node("CIM").data_dir);
  REQUIRE(store.ok());
  auto lines = store.value()->audit_lines();
  REQUIRE(lines.ok());
  REQUIRE(lines.value().size() == 1);  // the replays are not new operations
  const auto line = json::parse(lines.value()[0]);
  CHECK(line["actor"] == "cim");
  CHECK(line["operation"] == "admit");
  CHECK(line["result"] == "ok");
  CHECK(line["at_ms"].is_number());
}

TEST_CASE("api: placemeshd refuses bad configs and foreign data directories with the reason") {
  TestNetwork network("refuse");
  SECTION("every bad field is named in one message, exit code 2") {
    network.set_config("CIM", "api_listen", "\"localhost\"");
    network.set_config("CIM", "log_level", "\"loud\"");
    network.set_config("CIM", "colour", "\"blue\"");
    const auto result = run_placemeshd(network.node("CIM").config, deadline);
    CHECK(result.exit_code == 2);
    CHECK(result.output.find("3 problems") != std::string::npos);
    CHECK(result.output.find("api_listen") != std::string::npos);
    CHECK(result.output.find("log_level") != std::string::npos);
    CHECK(result.output.find("colour: unknown field") != std::string::npos);
  }
  SECTION("a data directory of another node key") {
    {
      RunningNode cim(network, "CIM");  // creates data/CIM with CIM's key
    }
    network.set_config("CIB", "data_dir", "\"data/CIM\"");
    const auto result = run_placemeshd(network.node("CIB").config, deadline);
    CHECK(result.exit_code == 1);
    CHECK(result.output.find("belongs to node key") != std::string::npos);
  }
  SECTION("a key that the roster lists for another node") {
    network.set_config("CIM", "key_file", "\"keys/CIB.key\"");
    const auto result = run_placemeshd(network.node("CIM").config, deadline);
    CHECK(result.exit_code == 2);
    CHECK(result.output.find("the roster file lists") != std::string::npos);
  }
  SECTION("an API port already in use") {
    RunningNode cim(network, "CIM");
    network.set_config("CIB", "api_listen", "\"127.0.0.1:" + std::to_string(cim.info().api_port) + "\"");
    const auto result = run_placemeshd(network.node("CIB").config, deadline);
    CHECK(result.exit_code == 1);
    CHECK(result.output.find("api_listen") != std::string::npos);
  }
}

TEST_CASE("api: a full store turns the node read-only with a clear error, and reads keep working") {
  TestNetwork network("full");
  // A 1 MiB map fills after some hundreds of operations.
  std::ofstream(network.node("CIM").config, std::ios::app) << "\n[store]\nmap_size_mb = 1\n";
  RunningNode cim(network, "CIM");
  const std::string token = network.token("cim");
  int accepted = 0;
  tools::HttpResponse last;
  for (int i = 0; i < 20'000; ++i) {
    const std::string op_id = "fill-" + std::to_string(i) + "-" + std::string(40, 'x');
    last = cim.request("POST", "/v1/pools/CIM/men/admit", "{\"count\":1,\"op_id\":\"" + op_id + "\"}", token);
    if (last.status != 200) break;
    ++accepted;
  }
  REQUIRE(last.status == 507);
  const auto error = body_of(last);
  CHECK(error["error"] == "store_full");
  CHECK(error["message"].get<std::string>().find("map_size_mb") != std::string::npos);
  CHECK(accepted > 10);
  // Every later write is refused the same way; reads still answer.
  CHECK(cim.request("POST", "/v1/pools/CIM/men/admit", R"({"count":1})", token).status == 507);
  CHECK(cim.occupied("CIM", "men") == accepted);
  CHECK(cim.request("GET", "/healthz", "", "").status == 503);
  CHECK(body_of(cim.request("GET", "/v1/status", "", token))["state"].get<std::string>().find("read-only") == 0);
}

TEST_CASE("api: placemeshd runs only with a roster signed by its admin key, and never goes back a version") {
  TestNetwork network("signed");
  const auto roster_file = network.dir() / "roster.toml";
  const std::string signed_v1 = read_file(roster_file);
  auto admin = load_key_file(network.dir() / "keys" / "admin.key");
  REQUIRE(admin.ok());
  auto rewrite = [&](const std::string& text) { std::ofstream(roster_file, std::ios::trunc) << text; };
  auto body_of_v1 = [&] { return std::string(split_signed_roster(signed_v1).value().body); };

  SECTION("an unsigned or tampered roster is refused at start") {
    rewrite(body_of_v1());
    auto result = run_placemeshd(network.node("CIM").config, deadline);
    CHECK(result.exit_code == 2);
    CHECK(result.output.find("is not signed") != std::string::npos);
    std::string tampered = signed_v1;
    tampered.replace(tampered.find("design = 110"), 12, "design = 999");
    rewrite(tampered);
    result = run_placemeshd(network.node("CIM").config, deadline);
    CHECK(result.exit_code == 2);
    CHECK(result.output.find("does not match") != std::string::npos);
  }
  SECTION("a newer roster is installed; an older one is ignored") {
    std::string v2 = body_of_v1();
    v2.replace(v2.find("version = 1"), 11, "version = 2");
    v2.replace(v2.find("design = 110"), 12, "design = 120");
    auto runs_version_2 = [&] {
      RunningNode cim(network, "CIM");
      const auto board = body_of(cim.request("GET", "/v1/board", "", network.token("viewer")));
      CHECK(board["roster_version"] == 2);
      CHECK(board["centres"][0]["pools"][0]["design"] == 120);
      cim.daemon().signal(SIGTERM);
      REQUIRE(cim.daemon().wait_exit(deadline).has_value());
    };
    rewrite(sign_roster(v2, *admin.value()));
    runs_version_2();
    rewrite(signed_v1);  // an attacker or a mistake hands it the old roster
    runs_version_2();
    CHECK(read_file(network.dir() / "CIM.log").find("older than the installed version 2") != std::string::npos);
  }
  SECTION("a replaced admin key: the config names the new key, the new key's roster is taken, the old key's refused") {
    std::string v5 = body_of_v1();
    v5.replace(v5.find("version = 1"), 11, "version = 5");
    rewrite(sign_roster(v5, *admin.value()));
    {
      RunningNode cim(network, "CIM");  // installs version 5, as a thief with the old key could have
      cim.daemon().signal(SIGTERM);
      REQUIRE(cim.daemon().wait_exit(deadline).has_value());
    }
    auto replacement = SecretKey::generate();
    REQUIRE(replacement.ok());
    // Only the config names the new key: with the old one still there, the
    // new key's roster is refused at start, and the node does not run.
    std::string v3 = body_of_v1();
    v3.replace(v3.find("version = 1"), 11, "version = 3");
    v3.replace(v3.find("design = 110"), 12, "design = 130");
    rewrite(sign_roster(v3, *replacement.value()));
    CHECK(run_placemeshd(network.node("CIM").config, deadline).exit_code == 2);
    const auto config_file = network.node("CIM").config;
    std::string config = read_file(config_file);
    const auto at = config.find(to_hex(admin.value()->public_key()));
    REQUIRE(at != std::string::npos);
    const std::string old_config = config;
    config.replace(at, 64, to_hex(replacement.value()->public_key()));
    std::ofstream(config_file, std::ios::trunc) << config;
    RunningNode cim(network, "CIM");
    const auto board = body_of(cim.request("GET", "/v1/board", "", network.token("viewer")));
    CHECK(board["roster_version"] == 3);  // lower than the thief's 5: the new key decides
    CHECK(board["centres"][0]["pools"][0]["design"] == 130);
    CHECK(read_file(network.dir() / "CIM.log").find("the admin key changed") != std::string::npos);
    std::string v9 = body_of_v1();
    v9.replace(v9.find("version = 1"), 11, "version = 9");
    const auto old_key = cim.request("POST", "/v1/roster", sign_roster(v9, *admin.value()), network.token("admin"));
    CHECK(old_key.status == 400);
    CHECK(body_of(cim.request("GET", "/v1/board", "", network.token("viewer")))["roster_version"] == 3);
    cim.daemon().signal(SIGTERM);
    REQUIRE(cim.daemon().wait_exit(deadline).has_value());

    // A backup of the old config and roster file put back (or a thief's
    // doing) does not bring the old key back: the store remembers it was
    // replaced, the node keeps the new key's roster and says why.
    std::ofstream(config_file, std::ios::trunc) << old_config;
    rewrite(sign_roster(v9, *admin.value()));
    RunningNode restored(network, "CIM");
    const auto after = body_of(restored.request("GET", "/v1/status", "", network.token("viewer")));
    CHECK(after["roster_version"] == 3);
    CHECK(after["admin_key"] == to_hex(replacement.value()->public_key()));
    CHECK(read_file(network.dir() / "CIM.log").find("which this node no longer trusts") != std::string::npos);
  }
}
