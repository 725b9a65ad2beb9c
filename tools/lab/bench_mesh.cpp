#include "tools/lab/bench_mesh.hpp"

#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "net/record_codec.hpp"
#include "node/store.hpp"
#include "tests/support/event_stream.hpp"
#include "tools/lab/bench_common.hpp"
#include "tools/lab/fault_proxy.hpp"
#include "tools/lab/local_network.hpp"
#include "tools/lab/running_mesh.hpp"

namespace placemesh::tools {

namespace {

using namespace placemesh::bench;
using nlohmann::json;

const std::vector<std::string> centres = {"CAR", "127B", "CIB", "CIM", "CIV", "CIH"};


struct Propagation {
  std::vector<double> visible_us;  // acknowledged → visible on all six others
  std::vector<double> ack_us;      // the admission's own latency at the client
};

// One admission at a time, round robin over the centres. Each of the six
// other nodes is watched through its event stream (GET /v1/events), which
// carries the board as soon as the node has merged the record: no polling
// load on the machine under test.
Propagation measure_propagation(RunningMesh& mesh, int samples) {
  Propagation result;
  std::map<std::string, std::unique_ptr<test::EventStream>> streams;
  std::map<std::string, std::int64_t> occupied;
  for (const auto& name : mesh.names()) {
    auto stream = std::make_unique<test::EventStream>(mesh.port(name), mesh.token("viewer"));
    auto board = stream->connected() ? stream->next_board(std::chrono::seconds(10)) : std::nullopt;
    if (!board) die("no event stream from " + name);
    for (const auto& centre : (*board)["centres"])
      for (const auto& pool : centre["pools"]) occupied[pool["id"]] = pool["occupied"].get<std::int64_t>();
    streams[name] = std::move(stream);
  }
  for (int i = 0; i < samples; ++i) {
    const std::string& centre = centres[static_cast<std::size_t>(i) % centres.size()];
    const std::string pool = mesh.pool(centre);
    const std::int64_t expected = ++occupied[pool];
    RawHttpClient writer(mesh.port(centre), mesh.token(operator_token_name(centre)));
    const auto start = Clock::now();
    if (writer.post("/v1/pools/" + pool + "/admit", "{\"count\":1,\"op_id\":\"prop-" + std::to_string(i) + "\"}") != 200)
      die("an admission at " + centre + " failed");
    const auto acknowledged = Clock::now();
    std::map<std::string, Clock::time_point> seen;
    while (seen.size() < streams.size() - 1) {
      if (Clock::now() - acknowledged > std::chrono::seconds(10)) die("a change did not reach every node in 10 s");
      std::vector<pollfd> fds;
      std::vector<std::string> names;
      for (const auto& [name, stream] : streams)
        if (name != centre && !seen.contains(name)) {
          fds.push_back(pollfd{stream->fd(), POLLIN, 0});
          names.push_back(name);
        }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      const auto now = Clock::now();
      for (std::size_t f = 0; f < fds.size(); ++f) {
        if ((fds[f].revents & POLLIN) == 0) continue;
        while (auto board = streams[names[f]]->next_board_now())
          if (test::occupied_in(*board, pool) >= expected && !seen.contains(names[f])) seen[names[f]] = now;
      }
    }
    // The writing centre's own stream: drain it.
    while (streams[centre]->next_board_now()) {
    }
    Clock::time_point last = acknowledged;
    for (const auto& [name, when] : seen) last = std::max(last, when);
    result.ack_us.push_back(micros(acknowledged - start));
    result.visible_us.push_back(micros(last - acknowledged));
  }
  return result;
}

double commit_mean_us(const RunningMesh& mesh) {
  double sum = 0, count = 0;
  for (const auto& name : mesh.names()) {
    sum += mesh.metric_sum(name, "placemesh_store_commit_seconds_sum");
    count += mesh.metric_sum(name, "placemesh_store_commit_seconds_count");
  }
  return count > 0 ? sum / count * 1e6 : 0;
}

}  // namespace

void run_mesh_bench(const MeshBenchOptions& options) {
  std::printf("## Replication: the quickstart network on loopback (7 nodes, 21 links)\n\n");
  double commit_us = 0;
  {
    RunningMesh mesh(options.dir / "direct", false);

    // Idle traffic: heartbeats every 5 s and a digest per link per second.
    const double before = [&] {
      double total = 0;
      for (const auto& name : mesh.names()) total += mesh.metric_sum(name, "placemesh_peer_bytes_sent_total");
      return total;
    }();
    const auto idle_start = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(10));
    double after = 0;
    for (const auto& name : mesh.names()) after += mesh.metric_sum(name, "placemesh_peer_bytes_sent_total");
    const double idle_seconds = std::chrono::duration<double>(Clock::now() - idle_start).count();
    const double idle_rate = (after - before) / 7.0 / idle_seconds;

    const Propagation plain = measure_propagation(mesh, options.samples);
    commit_us = commit_mean_us(mesh);
    const double goal_us = 2 * commit_us + 1000;
    std::printf("### Propagation (µs; %d admissions, round robin over the six centres)\n\n", options.samples);
    std::printf("| measure | p50 | p99 |\n|---|---:|---:|\n");
    std::printf("| admission acknowledged at the centre (client's latency) | %.0f | %.0f |\n",
                percentile(plain.ack_us, 0.5), percentile(plain.ack_us, 0.99));
    std::printf("| acknowledged → visible on all six other nodes | %.0f | %.0f |\n", percentile(plain.visible_us, 0.5),
                percentile(plain.visible_us, 0.99));
    std::printf("\nstore commit (write + fsync), mean over every node in this run: %.0f µs\n", commit_us);
    std::printf("goal: p99 ≤ 2 × commit + 1 ms = %.0f µs — %s\n", goal_us,
                percentile(plain.visible_us, 0.99) <= goal_us ? "met" : "NOT met");
    std::printf("\nidle gossip: %.0f bytes per node per second (message bytes before sealing; %.0f s)\n\n", idle_rate,
                idle_seconds);

    // --- catch-up ------------------------------------------------------------
    std::printf("### Catch-up: CIB stopped while the others record %d operations\n\n", options.catchup_ops);
    mesh.stop("CIB");
    std::atomic<int> next{0};
    std::vector<std::thread> clients;
    const std::vector<std::string> writers = {"CAR", "127B", "CIM", "CIV", "CIH"};
    const auto load_start = Clock::now();
    for (int c = 0; c < options.clients; ++c)
      clients.emplace_back([&, c] {
        const std::string& centre = writers[static_cast<std::size_t>(c) % writers.size()];
        RawHttpClient http(mesh.port(centre), mesh.token(operator_token_name(centre)));
        const std::string target = "/v1/pools/" + mesh.pool(centre) + "/admit";
        for (int op; (op = next++) < options.catchup_ops;)
          if (http.post(target, "{\"count\":1,\"op_id\":\"catchup-" + std::to_string(op) + "\"}") != 200)
            die("a catch-up admission at " + centre + " failed");
      });
    for (auto& client : clients) client.join();
    const double load_seconds = std::chrono::duration<double>(Clock::now() - load_start).count();

    auto board_of = [&](const std::string& name) {
      RawHttpClient http(mesh.port(name), mesh.token("viewer"));
      if (http.get("/v1/board") != 200) die("GET /v1/board failed on " + name);
      auto board = json::parse(http.body());
      json pools = json::array();
      for (const auto& centre : board["centres"])
        for (const auto& pool : centre["pools"]) pools.push_back({pool["id"], pool["occupied"]});
      return pools;
    };
    // HQ's board once the last admissions have reached it (unchanged over 200 ms).
    json target = board_of("HQ");
    for (int same = 0; same < 4;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      json now = board_of("HQ");
      same = now == target ? same + 1 : 0;
      target = std::move(now);
    }
    // The state CIB lacks: every record HQ holds that CIB's store does not
    // (or holds an older seq of).
    std::size_t state_bytes = 0, state_records = 0;
    {
      auto ledger_of = [&](const std::string& name) {
        auto store = Store::open_read_only(mesh.node(name).data_dir);
        if (!store) die("cannot read " + name + "'s store: " + store.error().message());
        auto loaded = store.value()->load();
        if (!loaded) die("cannot load " + name + "'s store: " + loaded.error().message());
        return std::move(loaded.value().ledger);
      };
      const Ledger hq = ledger_of("HQ"), cib = ledger_of("CIB");
      for (const auto& part : hq.delta_since({}).origins)
        for (const auto& record : part.records) {
          const Record* have = cib.find(record.origin, record.key);
          if (have != nullptr && have->seq >= record.seq) continue;
          state_bytes += encode(record).size();
          ++state_records;
        }
    }
    const auto restart = Clock::now();
    mesh.start("CIB");
    while (board_of("CIB") != target) {
      if (Clock::now() - restart > std::chrono::minutes(2))
        die("CIB did not catch up within 2 minutes: CIB shows " + board_of("CIB").dump() + ", HQ showed " +
            target.dump());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double catchup_ms = std::chrono::duration<double, std::milli>(Clock::now() - restart).count();
    const double received = mesh.metric_sum("CIB", "placemesh_peer_bytes_received_total");
    std::printf("| measure | value |\n|---|---:|\n");
    std::printf("| operations recorded while CIB was down | %d (%.0f/s from %d clients) |\n", options.catchup_ops,
                options.catchup_ops / load_seconds, options.clients);
    std::printf("| state CIB lacked: records, encoded bytes | %zu, %zu |\n", state_records, state_bytes);
    std::printf("| bytes CIB received until its board equalled HQ's | %.0f |\n", received);
    std::printf("| bytes received / state | %.2f (goal ≤ 2) |\n", received / static_cast<double>(state_bytes));
    std::printf("| time from CIB's start (process ready) to an equal board | %.0f ms |\n\n", catchup_ms);
  }
  {
    RunningMesh mesh(options.dir / "delayed", true);
    mesh.set_delay(options.delay_ms);
    const Propagation delayed = measure_propagation(mesh, std::max(20, options.samples / 4));
    const double goal_us = options.delay_ms * 1000.0 + 2 * commit_us;
    std::printf("### Propagation with %d ms added on every link (fault proxies; µs)\n\n", options.delay_ms);
    std::printf("| measure | p50 | p99 |\n|---|---:|---:|\n");
    std::printf("| acknowledged → visible on all six other nodes | %.0f | %.0f |\n",
                percentile(delayed.visible_us, 0.5), percentile(delayed.visible_us, 0.99));
    std::printf("\ngoal: p99 ≤ D + 2 × commit = %.0f µs — %s\n", goal_us,
                percentile(delayed.visible_us, 0.99) <= goal_us ? "met" : "NOT met");
  }
}

namespace {

// wrk's Requests/sec for one path.
double wrk_rate(std::uint16_t port, const std::string& path, const std::string& token, int seconds) {
  const std::string command = "wrk -t2 -c32 -d" + std::to_string(seconds) + "s" +
                              (token.empty() ? "" : " -H 'Authorization: Bearer " + token + "'") +
                              " http://127.0.0.1:" + std::to_string(port) + path + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) die("cannot run wrk");
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  if (::pclose(pipe) != 0 || output.find("Requests/sec:") == std::string::npos)
    die("wrk failed (./deploy/install-deps.sh --bench installs it):\n" + output);
  if (output.find("Non-2xx") != std::string::npos) die("wrk saw errors:\n" + output);
  return std::strtod(output.c_str() + output.find("Requests/sec:") + 13, nullptr);
}

std::vector<double> board_latency(const RunningMesh& mesh, int samples) {
  RawHttpClient http(mesh.port("HQ"), mesh.token("viewer"));
  std::vector<double> latency;
  for (int i = 0; i < samples; ++i) {
    const auto start = Clock::now();
    if (http.get("/v1/board") != 200) die("GET /v1/board failed at HQ");
    latency.push_back(micros(Clock::now() - start));
  }
  return latency;
}

}  // namespace

void run_board_bench(const MeshBenchOptions& options) {
  std::printf("## The board at HQ (linked to six centres, loopback)\n\n");
  RunningMesh mesh(options.dir / "board", false);
  constexpr int rounds = 3, seconds = 4;
  std::vector<double> board_rates, health_rates;
  for (int round = 0; round < rounds; ++round) {  // alternating, so noise falls on both
    health_rates.push_back(wrk_rate(mesh.port("HQ"), "/healthz", "", seconds));
    board_rates.push_back(wrk_rate(mesh.port("HQ"), "/v1/board", mesh.token("viewer"), seconds));
  }
  std::printf("### Requests/s (wrk -t2 -c32, %d s, median of %d alternating rounds)\n\n", seconds, rounds);
  std::printf("| request | requests/s |\n|---|---:|\n| GET /healthz (the server's floor) | %.0f |\n"
              "| GET /v1/board (token checked, board derived and encoded) | %.0f |\n\nboard / healthz = %.2f\n\n",
              median(health_rates), median(board_rates), median(board_rates) / median(health_rates));

  const auto quiet = board_latency(mesh, options.samples);
  std::vector<std::unique_ptr<test::EventStream>> streams;
  for (int i = 0; i < 200; ++i) {
    streams.push_back(std::make_unique<test::EventStream>(mesh.port("HQ"), mesh.token("viewer")));
    if (!streams.back()->connected() || !streams.back()->next_board(std::chrono::seconds(10))) die("an event stream failed");
  }
  const auto busy = board_latency(mesh, options.samples);

  // Fan-out: an admission at CIM until all 200 streams at HQ carry it.
  std::vector<double> fanout_us, first_us;
  RawHttpClient writer(mesh.port("CIM"), mesh.token("cim"));
  std::int64_t expected = -1;
  {
    RawHttpClient reader(mesh.port("CIM"), mesh.token("viewer"));
    if (reader.get("/v1/board") != 200) die("GET /v1/board failed at CIM");
    expected = test::occupied_in(json::parse(reader.body()), "CIM/men");
  }
  for (int i = 0; i < 30; ++i) {
    ++expected;
    if (writer.post("/v1/pools/CIM/men/admit", "{\"count\":1,\"op_id\":\"fanout-" + std::to_string(i) + "\"}") != 200)
      die("an admission at CIM failed");
    const auto acknowledged = Clock::now();
    std::vector<bool> done(streams.size(), false);
    std::size_t left = streams.size();
    Clock::time_point first{}, last{};
    while (left > 0) {
      if (Clock::now() - acknowledged > std::chrono::seconds(10)) die("a stream missed a change for 10 s");
      std::vector<pollfd> fds;
      std::vector<std::size_t> which;
      for (std::size_t s = 0; s < streams.size(); ++s)
        if (!done[s]) {
          fds.push_back(pollfd{streams[s]->fd(), POLLIN, 0});
          which.push_back(s);
        }
      if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
      for (std::size_t f = 0; f < fds.size(); ++f) {
        if ((fds[f].revents & POLLIN) == 0) continue;
        auto& stream = *streams[which[f]];
        while (auto board = stream.next_board_now())
          if (test::occupied_in(*board, "CIM/men") >= expected && !done[which[f]]) {
            done[which[f]] = true;
            --left;
            last = Clock::now();
            if (first == Clock::time_point{}) first = last;
          }
      }
    }
    first_us.push_back(micros(first - acknowledged));
    fanout_us.push_back(micros(last - acknowledged));
  }
  std::printf("### Event streams (µs)\n\n| measure | p50 | p99 |\n|---|---:|---:|\n");
  std::printf("| GET /v1/board at HQ, no stream open (%d samples) | %.0f | %.0f |\n", options.samples,
              percentile(quiet, 0.5), percentile(quiet, 0.99));
  std::printf("| GET /v1/board at HQ, 200 streams open | %.0f | %.0f |\n", percentile(busy, 0.5),
              percentile(busy, 0.99));
  std::printf("| admission acknowledged at CIM → first of 200 streams at HQ has it (30 changes) | %.0f | %.0f |\n",
              percentile(first_us, 0.5), percentile(first_us, 0.99));
  std::printf("| admission acknowledged at CIM → all 200 streams at HQ have it | %.0f | %.0f |\n\n",
              percentile(fanout_us, 0.5), percentile(fanout_us, 0.99));
}

}  // namespace placemesh::tools
