// Live updates and the dashboard page of a real placemeshd: GET /v1/events
// streams the board at once and after every change, to many clients; GET /
// serves the page with everything it needs and a policy that forbids any
// other host.
#include <catch2/catch.hpp>
#include <memory>

#include "tests/support/event_stream.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;

TEST_CASE("events: a stream gets the board at once and every change after it, also from another node") {
  TestNetwork network("events");
  RunningNode cim(network, "CIM"), hq(network, "HQ");
  EventStream stream(hq.info().api_port, network.token("viewer"));
  REQUIRE(stream.connected());
  auto first = stream.next_board(std::chrono::seconds(5));
  REQUIRE(first.has_value());
  CHECK(stream.head().find("text/event-stream") != std::string::npos);
  CHECK((*first)["node"] == "HQ");
  CHECK(occupied_in(*first, "CIM/men") == 0);
  // An admission at CIM reaches HQ's stream without a reload.
  REQUIRE(cim.request("POST", "/v1/pools/CIM/men/admit", R"({"count":3})", network.token("cim")).status == 200);
  CHECK(stream.board_where([](const nlohmann::json& board) { return occupied_in(board, "CIM/men") == 3; },
                           std::chrono::seconds(10)));
}

TEST_CASE("events: no token, no stream") {
  TestNetwork network("events-auth");
  RunningNode cim(network, "CIM");
  EventStream stream(cim.info().api_port, "pm_not-a-token");
  REQUIRE(stream.connected());
  CHECK_FALSE(stream.next_board(std::chrono::seconds(2)).has_value());
  CHECK(stream.head().rfind("HTTP/1.1 401", 0) == 0);
}

TEST_CASE("events: 200 streams all get each change, and operations keep being answered") {
  TestNetwork network("events-many");
  RunningNode cim(network, "CIM");
  std::vector<std::unique_ptr<EventStream>> streams;
  // From four addresses: one source may hold 64 streams.
  const char* sources[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"};
  for (int i = 0; i < 200; ++i) {
    streams.push_back(std::make_unique<EventStream>(cim.info().api_port, network.token("viewer"), sources[i % 4]));
    REQUIRE(streams.back()->connected());
  }
  for (auto& stream : streams) REQUIRE(stream->next_board(std::chrono::seconds(10)).has_value());
  for (int i = 0; i < 20; ++i)
    REQUIRE(cim.request("POST", "/v1/pools/CIM/men/admit", R"({"count":1})", network.token("cim")).status == 200);
  std::size_t saw_all = 0;
  for (auto& stream : streams)
    saw_all += stream->board_where([](const nlohmann::json& board) { return occupied_in(board, "CIM/men") == 20; },
                                   std::chrono::seconds(10));
  CHECK(saw_all == streams.size());
  CHECK(cim.metric(R"(placemesh_http_responses_total{code="200"})") >= 220.0);
}

TEST_CASE("dashboard: the page is served by the node and asks for nothing from elsewhere") {
  TestNetwork network("dashboard");
  RunningNode cim(network, "CIM");
  const auto page = cim.request("GET", "/", "", "");
  REQUIRE(page.status == 200);
  CHECK(page.body.find("<title>placemesh</title>") != std::string::npos);
  for (const char* external : {"http://", "https://", "//cdn", "@import", "src=\"//"})
    CHECK(page.body.find(external) == std::string::npos);
  for (const char* language : {"Nederlands", "Français", "English"}) CHECK(page.body.find(language) != std::string::npos);
  const auto session = cim.request("GET", "/v1/session", "", network.token("cim"));
  REQUIRE(session.status == 200);
  const auto who = nlohmann::json::parse(session.body);
  CHECK(who["role"] == "operator");
  CHECK(who["centre"] == "CIM");
  CHECK(who["node"] == "CIM");
}
