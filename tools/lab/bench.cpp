// placemesh-bench: the durable node against its floor and against Redis,
// measured side by side in one run on the same disk (BENCHMARKS.md).
//
//   latency     one client, one admission at a time: placemesh through its
//               API; the floor (LMDB's durable commit + one loopback TCP
//               round trip); Redis INCR with appendfsync always
//   throughput  N concurrent clients for a few seconds: placemesh (group
//               commit) and Redis (appendfsync always)
//   rss         resident memory of an idle node
//
// Rounds alternate between the systems so that noise on this shared machine
// falls on all of them alike; the figures are medians of the per-round
// results.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "node/lmdb.hpp"
#include "tools/lab/bench_common.hpp"
#include "tools/lab/bench_crypto.hpp"
#include "tools/lab/bench_mesh.hpp"
#include "tools/lab/compare/servers.hpp"
#include "tools/lab/local_network.hpp"


namespace {

using namespace placemesh;
using namespace placemesh::bench;

// --- the floor: an LMDB durable commit behind one TCP round trip ------------
class FloorServer {
 public:
  explicit FloorServer(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    auto env = lmdb::Env::open(dir, std::size_t{1} << 30, 2);
    if (!env) die(env.error().message());
    env_ = std::move(env).value();
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 1) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      die("floor server: cannot listen on loopback");
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FloorServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    thread_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  void serve() {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char request[256];
    std::uint64_t counter = 0;
    MDB_dbi dbi = 0;
    {
      auto txn = lmdb::Txn::begin(*env_, false);
      dbi = txn.value().open_db("counter").value();
      (void)txn.value().commit();
    }
    for (;;) {
      const auto n = ::recv(fd, request, sizeof request, 0);
      if (n <= 0) break;
      ++counter;
      auto txn = lmdb::Txn::begin(*env_, false);
      const std::string key = "CIM/men";
      const std::string value = std::to_string(counter);
      if (!txn || !txn.value().put(dbi, lmdb::bytes(key), lmdb::bytes(value)) || !txn.value().commit())
        die("floor server: commit failed");
      if (!send_all(fd, "ok\n")) break;
    }
    ::close(fd);
  }
  std::unique_ptr<lmdb::Env> env_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// --- Redis (tools/compare/servers.hpp) ---------------------------------------
using compare::RedisServer;

// One synchronous request/answer over a persistent connection.
class LineClient {
 public:
  explicit LineClient(std::uint16_t port) : fd_(connect_loopback(port)) {
    if (fd_ < 0) die("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  ~LineClient() { ::close(fd_); }
  bool call(std::string_view request) {
    if (!send_all(fd_, request)) return false;
    char answer[64];
    const auto n = ::recv(fd_, answer, sizeof answer, 0);  // answers are one short line
    return n > 0 && answer[0] != '-';
  }

 private:
  int fd_;
};

constexpr std::string_view redis_incr = "*2\r\n$4\r\nINCR\r\n$7\r\nCIM/men\r\n";

struct Placemesh {
  std::unique_ptr<tools::LocalNetwork> network;
  std::unique_ptr<tools::Daemon> daemon;
  std::string token;
  tools::Url url;
  std::uint64_t next_op = 0;
};

std::string admission(std::uint64_t op) {
  return "{\"count\":1,\"op_id\":\"bench-" + std::to_string(op) + "\"}";
}

// VmRSS, and its part that is the process's own memory (RssAnon) rather
// than LMDB's file pages mapped in (RssFile: page cache, shared, reclaimable).
struct Rss {
  long total_kib = -1, anon_kib = -1, file_kib = -1;
};
Rss rss_of(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  Rss rss;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss.total_kib = std::stol(line.substr(6));
    if (line.rfind("RssAnon:", 0) == 0) rss.anon_kib = std::stol(line.substr(8));
    if (line.rfind("RssFile:", 0) == 0) rss.file_kib = std::stol(line.substr(8));
  }
  return rss;
}
double mib(long kib) { return static_cast<double>(kib) / 1024; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"placemesh-bench — the durable node against its floor and Redis, side by side (BENCHMARKS.md)\n\n"
               "Example:\n  placemesh-bench --dir var/bench --rounds 10 --samples 200 --clients 50 --seconds 3",
               "placemesh-bench"};
  std::filesystem::path dir = "var/bench";
  int rounds = 10, samples = 200, clients = 50;
  double seconds = 3;
  bool skip_redis = false;
  app.add_option("--dir", dir, "work folder; put it on the disk under test")->capture_default_str();
  app.add_option("--rounds", rounds, "alternating rounds per measurement")->capture_default_str();
  app.add_option("--samples", samples, "latency samples per system per round")->capture_default_str();
  app.add_option("--clients", clients, "concurrent clients for throughput")->capture_default_str();
  app.add_option("--seconds", seconds, "duration of each throughput round")->capture_default_str();
  app.add_flag("--no-redis", skip_redis, "skip Redis (when redis-server is not installed)");
  std::string only;
  app.add_option("--only", only,
                 "run one part: node (the durable node), crypto (links and signatures) or mesh (propagation, "
                 "idle traffic and catch-up of the seven-node network) or board (requests/s and event streams at HQ)")
      ->check(CLI::IsMember({"node", "crypto", "mesh", "board"}));
  int delay_ms = 20, catchup_ops = 100'000;
  app.add_option("--delay-ms", delay_ms, "mesh: delay added on every link for the second propagation run")
      ->capture_default_str();
  app.add_option("--catchup-ops", catchup_ops, "mesh: operations a stopped centre misses")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  kill_children_at_exit();  // a die() must not leave Redis or the nodes running
  if (only == "crypto") {
    tools::run_crypto_bench(rounds, 0.3);
    return 0;
  }
  if (only == "mesh" || only == "board") {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
    std::filesystem::create_directories(dir);
    dir = std::filesystem::absolute(dir);
    print_machine(dir);
    if (only == "mesh") tools::run_mesh_bench({dir, samples, delay_ms, catchup_ops, 8});
    else tools::run_board_bench({dir, samples, delay_ms, catchup_ops, 8});
    return 0;
  }

  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);
  dir = std::filesystem::absolute(dir);
  print_machine(dir);
  std::printf("command:");
  for (int i = 0; i < argc; ++i) std::printf(" %s", argv[i]);
  std::printf("\n\n");

  Placemesh node;
  node.network = std::make_unique<tools::LocalNetwork>(dir / "network");
  const auto& cim = node.network->node("CIM");
  node.url = cim.url();
  node.token = node.network->token("cim");
  node.daemon = std::make_unique<tools::Daemon>(cim.config, dir / "CIM.log");
  std::string why;
  if (!node.daemon->wait_ready(node.url, std::chrono::seconds(20), why)) die(why);

  // --- RSS of the idle node, before any load ---------------------------------
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const Rss idle_rss = rss_of(node.daemon->pid());

  FloorServer floor(dir / "floor");
  std::unique_ptr<RedisServer> redis;
  if (!skip_redis) redis = std::make_unique<RedisServer>(dir / "redis", tools::free_port());

  // --- latency --------------------------------------------------------------
  std::vector<double> node_p50, node_p99, floor_p50, floor_p99, redis_p50, redis_p99;
  {
    RawHttpClient http(node.url.port, node.token);
    LineClient floor_client(floor.port());
    std::unique_ptr<LineClient> redis_client = redis ? std::make_unique<LineClient>(redis->port()) : nullptr;
    const std::string floor_request(180, 'x');  // about the size of an admission request
    for (int round = 0; round < rounds; ++round) {
      std::vector<double> a, b, c;
      for (int i = 0; i < samples; ++i) {
        const auto start = Clock::now();
        if (http.post("/v1/pools/CIM/men/admit", admission(node.next_op++)) != 200) die("admission failed");
        a.push_back(micros(Clock::now() - start));
      }
      for (int i = 0; i < samples; ++i) {
        const auto start = Clock::now();
        if (!floor_client.call(floor_request)) die("floor call failed");
        b.push_back(micros(Clock::now() - start));
      }
      if (redis_client) {
        for (int i = 0; i < samples; ++i) {
          const auto start = Clock::now();
          if (!redis_client->call(redis_incr)) die("redis INCR failed");
          c.push_back(micros(Clock::now() - start));
        }
      }
      node_p50.push_back(percentile(a, 0.5));
      node_p99.push_back(percentile(a, 0.99));
      floor_p50.push_back(percentile(b, 0.5));
      floor_p99.push_back(percentile(b, 0.99));
      if (!c.empty()) {
        redis_p50.push_back(percentile(c, 0.5));
        redis_p99.push_back(percentile(c, 0.99));
      }
    }
  }

  // --- throughput -----------------------------------------------------------
  std::vector<double> node_rate, redis_rate;
  std::atomic<std::uint64_t> op_counter{1'000'000'000};
  auto run_clients = [&](const std::function<bool(int, std::uint64_t)>& one) {
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> done{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([&, c] {
        std::uint64_t mine = 0;
        while (!stop) {
          if (!one(c, op_counter++)) die("a throughput request failed");
          ++mine;
        }
        done += mine;
      });
    const auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& thread : threads) thread.join();
    return static_cast<double>(done) / std::chrono::duration<double>(Clock::now() - start).count();
  };
  const int throughput_rounds = std::max(1, rounds / 3);
  for (int round = 0; round < throughput_rounds; ++round) {
    std::vector<std::unique_ptr<RawHttpClient>> https;
    for (int c = 0; c < clients; ++c) https.push_back(std::make_unique<RawHttpClient>(node.url.port, node.token));
    node_rate.push_back(run_clients([&](int c, std::uint64_t op) {
      return https[static_cast<std::size_t>(c)]->post("/v1/pools/CIM/men/admit", admission(op)) == 200;
    }));
    if (redis) {
      std::vector<std::unique_ptr<LineClient>> lines;
      for (int c = 0; c < clients; ++c) lines.push_back(std::make_unique<LineClient>(redis->port()));
      redis_rate.push_back(run_clients([&](int c, std::uint64_t) {
        return lines[static_cast<std::size_t>(c)]->call(redis_incr);
      }));
    }
  }
  const Rss loaded_rss = rss_of(node.daemon->pid());

  // --- report ----------------------------------------------------------------
  std::printf("## Durable single-client latency (µs; median of %d rounds × %d samples)\n\n", rounds, samples);
  std::printf("| system | p50 | p99 |\n|---|---:|---:|\n");
  std::printf("| placemesh admission (HTTP API, group commit) | %.0f | %.0f |\n", median(node_p50), median(node_p99));
  std::printf("| floor: LMDB durable commit + loopback round trip | %.0f | %.0f |\n", median(floor_p50),
              median(floor_p99));
  if (redis) std::printf("| Redis INCR, appendfsync always | %.0f | %.0f |\n", median(redis_p50), median(redis_p99));
  std::printf("\nplacemesh p50 / floor p50 = %.2f (goal ≤ 1.25)\n", median(node_p50) / median(floor_p50));
  if (redis) std::printf("placemesh p50 / Redis p50 = %.2f (goal ≤ 1.5)\n", median(node_p50) / median(redis_p50));
  std::printf("\n## Throughput, %d clients (acknowledged operations/s; median of %d rounds × %.0f s)\n\n", clients,
              throughput_rounds, seconds);
  std::printf("| system | ops/s |\n|---|---:|\n");
  std::printf("| placemesh admissions | %.0f |\n", median(node_rate));
  if (redis) std::printf("| Redis INCR, appendfsync always | %.0f |\n", median(redis_rate));
  if (redis) std::printf("\nplacemesh / Redis = %.2f (goal ≥ 1; below 20,000/s is a defect)\n",
                         median(node_rate) / median(redis_rate));
  std::printf("\n## Memory of placemeshd (MiB)\n\n| when | RSS | own (RssAnon) | LMDB pages mapped (RssFile) |\n"
              "|---|---:|---:|---:|\n");
  std::printf("| idle, after start (goal ≤ 30) | %.1f | %.1f | %.1f |\n", mib(idle_rss.total_kib), mib(idle_rss.anon_kib),
              mib(idle_rss.file_kib));
  std::printf("| after the run | %.1f | %.1f | %.1f |\n", mib(loaded_rss.total_kib), mib(loaded_rss.anon_kib),
              mib(loaded_rss.file_kib));
  node.daemon->signal(SIGTERM);
  (void)node.daemon->wait_exit(std::chrono::seconds(30));
  if (only.empty()) {
    std::printf("\n");
    tools::run_crypto_bench(rounds, 0.3);
    std::printf("\n");
    tools::run_mesh_bench({dir / "mesh", samples, delay_ms, catchup_ops, 8});
    std::printf("\n");
    tools::run_board_bench({dir / "board", samples, delay_ms, catchup_ops, 8});
  }
  return 0;
}
