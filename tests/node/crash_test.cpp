// Crash: a real placemeshd takes 2,000 admissions from 4 concurrent clients
// and is killed with SIGKILL at a random moment, then restarted. Every
// acknowledged admission must still be there, and the clients' retries of
// unacknowledged ones (same op_id) must never count twice.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "node/store.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;
using nlohmann::json;

namespace {

constexpr int clients = 4;
constexpr int per_client = 500;
constexpr auto deadline = std::chrono::seconds(120);

}  // namespace

TEST_CASE("crash: SIGKILL during 2,000 admissions loses no acknowledged one and counts none twice") {
  std::random_device entropy;
  const auto seed = entropy();
  std::mt19937 random(seed);
  const int kill_after = std::uniform_int_distribution<int>(100, clients * per_client - 200)(random);
  INFO("seed " << seed << ": SIGKILL after " << kill_after << " acknowledgements");

  TestNetwork network("crash");
  const TestNode& cim = network.node("CIM");
  const std::string token = network.token("cim");
  RunningNode node(network, "CIM");

  std::atomic<int> acknowledged{0};
  std::atomic<int> retries{0};
  std::atomic<bool> gave_up{false};
  std::atomic<bool> paused{false};  // clients hold their retries while the restart is checked
  std::mutex receipts_mutex;
  std::vector<json> receipts;
  const auto until = std::chrono::steady_clock::now() + deadline;

  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      tools::HttpClient client(cim.url(), std::chrono::seconds(5));
      for (int i = 0; i < per_client; ++i) {
        const std::string body = json{{"count", 1}, {"op_id", "crash-" + std::to_string(c) + "-" + std::to_string(i)}}.dump();
        for (;;) {
          auto outcome = client.request("POST", "/v1/pools/CIM/men/admit", body, token);
          if (outcome.response && outcome.response->status == 200) {
            ++acknowledged;
            std::lock_guard lock(receipts_mutex);
            receipts.push_back(json::parse(outcome.response->body));
            break;
          }
          // Not acknowledged (node down, or busy): retry the same op_id.
          ++retries;
          while (paused && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          if (std::chrono::steady_clock::now() > until) {
            gave_up = true;
            return;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      }
    });
  }

  // Kill at the drawn moment (awaited as a condition, with a deadline).
  while (acknowledged < kill_after && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  node.daemon().signal(SIGKILL);
  paused = true;
  REQUIRE(node.daemon().wait_exit(deadline).has_value());
  const int acknowledged_at_kill = acknowledged;
  node.start();
  // Everything acknowledged before the kill is there after the restart; at
  // most the operations in flight at the kill (one per client) are there
  // without an acknowledgement. (A client descheduled between its last pause
  // check and its send may add one more acknowledged admission.)
  const auto after_restart = node.occupied("CIM", "men");
  CHECK(after_restart >= acknowledged_at_kill);
  CHECK(after_restart <= acknowledged + clients);
  paused = false;

  for (auto& thread : threads) thread.join();
  REQUIRE_FALSE(gave_up);
  CHECK(acknowledged == clients * per_client);
  CHECK(retries > 0);  // the kill did interrupt someone
  CHECK(node.occupied("CIM", "men") == clients * per_client);

  // Each acknowledged admission is its own record: no seq answered twice.
  std::set<std::uint64_t> seqs;
  for (const auto& receipt : receipts) seqs.insert(receipt["seq"].get<std::uint64_t>());
  CHECK(seqs.size() == receipts.size());

  node.stop();
  auto store = Store::open_read_only(cim.data_dir);
  REQUIRE(store.ok());
  auto counts = store.value()->counts();
  REQUIRE(counts.ok());
  CHECK(counts.value().ops == static_cast<std::size_t>(clients * per_client));
  auto problems = store.value()->verify();
  REQUIRE(problems.ok());
  CHECK(problems.value().empty());
}
