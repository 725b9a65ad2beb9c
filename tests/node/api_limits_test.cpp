// What one caller may take of a real placemeshd's API (issue 15): the hard
// body limit on every route, a budget of changes per token (429 with
// Retry-After), connections and event streams per source address, and
// /metrics behind a token or on an address of its own.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "crdt/limits.hpp"
#include "tests/support/event_stream.hpp"
#include "tests/support/test_network.hpp"
#include "tools/lab/bench_common.hpp"

using namespace placemesh;
using namespace placemesh::test;
using nlohmann::json;

namespace {

// A plain TCP connection to the node from one loopback source address.
class RawConnection {
 public:
  RawConnection(const char* source, std::uint16_t port) : fd_(bench::connect_tcp("127.0.0.1", port, source)) {}
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  [[nodiscard]] bool connected() const { return fd_ >= 0; }

  // Sends a keep-alive request and reads what comes back within the
  // deadline: "" when the node closed the connection without an answer.
  std::string exchange(const std::string& request, std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
    std::string got;
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (got.find("\r\n\r\n") == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      pollfd ready{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) break;
      char chunk[4096];
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      got.append(chunk, static_cast<std::size_t>(n));
    }
    return got;
  }

 private:
  int fd_;
};

const std::string healthz = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

}  // namespace

TEST_CASE("api limits: a body over four times body_bytes_max closes the connection, on every route") {
  TestNetwork network("hard-body");
  RunningNode cim(network, "CIM");
  tools::HttpClient client(cim.info().url(), std::chrono::seconds(10));
  const std::size_t hard = limits::api_body_bytes_default * limits::api_hard_body_factor;
  // Over body_bytes_max and under the hard limit: an answer that says why.
  const std::string soft_over = R"({"count":1,"reason":")" + std::string(limits::api_body_bytes_default, 'x') + R"("})";
  CHECK(client.request("POST", "/v1/pools/CIM/men/admit", soft_over, network.token("cim")).response->status == 413);
  // Past the hard limit, the roster route included (it took up to 1 MiB
  // before): RESTinio stops reading and closes, nothing is answered.
  const std::string huge(hard + 1'024, 'x');
  for (const char* path : {"/v1/pools/CIM/men/admit", "/v1/roster"}) {
    INFO(path);
    tools::HttpClient fresh(cim.info().url(), std::chrono::seconds(10));
    const auto outcome = fresh.request("POST", path, huge, network.token("admin"));
    CHECK_FALSE(outcome.response.has_value());
  }
  // The node is none the worse.
  CHECK(cim.request("GET", "/healthz", "", "").status == 200);
  CHECK(cim.occupied("CIM", "men") == 0);
}

TEST_CASE("api limits: a token in a loop gets 429 with Retry-After, other tokens and the store are untouched") {
  TestNetwork network("rate");
  network.set_api("CIM", "operations_per_minute", "5");
  const std::string desk = network.add_token("desk", "operator", "CIM");  // the node's budget, not the lab's
  RunningNode cim(network, "CIM");
  const std::string path = "/v1/pools/CIM/men/admit";
  for (int i = 0; i < 5; ++i) REQUIRE(cim.request("POST", path, R"({"count":1})", desk).status == 200);
  const auto limited = cim.request("POST", path, R"({"count":1,"op_id":"retry-me"})", desk);
  REQUIRE(limited.status == 429);
  const auto retry_after = std::stoi(limited.headers.at("retry-after"));
  CHECK(retry_after >= 1);
  CHECK(retry_after <= 12);  // one change comes back every 60 s / 5
  const auto error = body_of(limited);
  CHECK(error["error"] == "rate_limited");
  CHECK(error["message"].get<std::string>().find("operations_per_minute") != std::string::npos);
  // Refused before the replica saw it: not applied, not counted as an operation.
  CHECK(cim.occupied("CIM", "men") == 5);
  CHECK(body_of(cim.request("GET", "/v1/status", "", network.token("admin")))["operations"] == 5);
  // The budget is per token: another's is whole (the lab's cim token has
  // its own, in the tokens file), and reads are not budgeted.
  for (int i = 0; i < 10; ++i) REQUIRE(cim.request("POST", path, R"({"count":1})", network.token("cim")).status == 200);
  for (int i = 0; i < 20; ++i) REQUIRE(cim.request("GET", "/v1/board", "", desk).status == 200);
  CHECK(cim.metric(R"(placemesh_http_refused_total{why="rate_limited"})") == 1.0);
  CHECK(cim.metric(R"(placemesh_http_responses_total{code="429"})") == 1.0);
}

TEST_CASE("api limits: one source address cannot take every connection or event stream") {
  TestNetwork network("per-source");
  RunningNode cim(network, "CIM");
  const auto port = cim.info().api_port;
  SECTION("connections") {
    std::vector<std::unique_ptr<RawConnection>> held;
    for (std::size_t i = 0; i < limits::api_connections_per_source_max; ++i) {
      held.push_back(std::make_unique<RawConnection>("127.0.0.5", port));
      REQUIRE(held.back()->connected());
    }
    // Each of them is served...
    CHECK(held.front()->exchange(healthz).rfind("HTTP/1.1 200", 0) == 0);
    CHECK(held.back()->exchange(healthz).rfind("HTTP/1.1 200", 0) == 0);
    // ...the next one from that address is closed unanswered...
    RawConnection over("127.0.0.5", port);
    REQUIRE(over.connected());
    CHECK(over.exchange(healthz).empty());
    // ...while another address is served at once.
    RawConnection other("127.0.0.6", port);
    REQUIRE(other.connected());
    CHECK(other.exchange(healthz).rfind("HTTP/1.1 200", 0) == 0);
    CHECK(cim.metric(R"(placemesh_http_refused_total{why="connections_per_source"})") >= 1.0);
    // Closed connections give their slot back.
    held.resize(held.size() - 4);
    CHECK(eventually([&] {
      RawConnection again("127.0.0.5", port);
      return again.connected() && again.exchange(healthz, std::chrono::seconds(2)).rfind("HTTP/1.1 200", 0) == 0;
    }));
  }
  SECTION("event streams") {
    std::vector<std::unique_ptr<EventStream>> streams;
    for (std::size_t i = 0; i < limits::event_streams_per_source_max; ++i) {
      streams.push_back(std::make_unique<EventStream>(port, network.token("viewer"), "127.0.0.7"));
      REQUIRE(streams.back()->next_board(std::chrono::seconds(10)).has_value());
    }
    EventStream over(port, network.token("viewer"), "127.0.0.7");
    CHECK_FALSE(over.next_board(std::chrono::seconds(2)).has_value());
    CHECK(over.head().rfind("HTTP/1.1 503", 0) == 0);
    EventStream other(port, network.token("viewer"), "127.0.0.8");
    CHECK(other.next_board(std::chrono::seconds(10)).has_value());
    CHECK(cim.metric(R"(placemesh_http_refused_total{why="streams_per_source"})") == 1.0);
  }
}

TEST_CASE("api limits: /metrics can need a token, or live on an address of its own") {
  TestNetwork network("metrics-guard");
  SECTION("metrics = \"token\"") {
    network.set_api("CIM", "metrics", "\"token\"");
    RunningNode cim(network, "CIM");
    CHECK(cim.request("GET", "/metrics", "", "").status == 401);
    const auto scraped = cim.request("GET", "/metrics", "", network.token("viewer"));
    CHECK(scraped.status == 200);
    CHECK(scraped.body.find("placemesh_operations_total") != std::string::npos);
    CHECK(cim.request("GET", "/healthz", "", "").status == 200);  // still open, for load balancers
  }
  SECTION("metrics_listen") {
    const auto metrics_port = tools::free_port();
    network.set_api("CIM", "metrics_listen", "\"127.0.0.1:" + std::to_string(metrics_port) + "\"");
    RunningNode cim(network, "CIM");
    const auto on_api = cim.request("GET", "/metrics", "", network.token("admin"));
    CHECK(on_api.status == 404);
    CHECK(on_api.body.find("metrics_listen") != std::string::npos);
    tools::HttpClient scraper(tools::Url{"127.0.0.1", metrics_port}, std::chrono::seconds(10));
    const auto scraped = scraper.request("GET", "/metrics");
    REQUIRE(scraped.response.has_value());
    CHECK(scraped.response->status == 200);
    CHECK(scraped.response->body.find("placemesh_peer_up") != std::string::npos);
    // That address serves nothing else.
    CHECK(scraper.request("GET", "/v1/board", "", network.token("admin")).response->status == 404);
  }
  SECTION("a metrics_listen that is api_listen is refused with the reason") {
    network.set_api("CIM", "metrics_listen", "\"127.0.0.1:" + std::to_string(network.node("CIM").api_port) + "\"");
    const auto ran = tools::run_placemeshd(network.node("CIM").config, node_deadline);
    CHECK(ran.exit_code == 2);
    CHECK(ran.output.find("api.metrics_listen") != std::string::npos);
  }
}
