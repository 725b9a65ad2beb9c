#include "tools/lab/compare/systems.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "tools/lab/bench_common.hpp"
#include "tools/lab/compare/servers.hpp"
#include "tools/lab/http_client.hpp"
#include "tools/lab/local_network.hpp"
#include "tools/network_plan.hpp"
#include "tools/lab/running_mesh.hpp"

namespace placemesh::compare {

namespace {

using bench::Clock;
using bench::die;
using nlohmann::json;
using std::chrono::milliseconds;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// "3.4.23" from the first line `command` prints, or "" when it prints none.
std::string version_of(const std::string& command) {
  std::string line;
  if (FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r")) {
    char buffer[256];
    if (std::fgets(buffer, sizeof buffer, pipe) != nullptr) line = buffer;
    ::pclose(pipe);
  }
  std::smatch found;
  return std::regex_search(line, found, std::regex(R"([0-9]+\.[0-9]+(\.[0-9]+)?)")) ? found.str() : std::string();
}

std::string named(const std::string& name, const std::string& command) {
  const std::string version = version_of(command);
  return version.empty() ? name : name + " " + version;
}

std::string base64(std::string_view text) {
  std::string out(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()), text.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string unbase64(const std::string& text) {
  std::string out(text.size(), '\0');
  std::size_t length = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return {};
  out.resize(length);
  return out;
}

std::vector<std::string> every_pool() {
  std::vector<std::string> out;
  for (const auto& [centre, pools] : centre_pools()) out.insert(out.end(), pools.begin(), pools.end());
  return out;
}

// ---- placemesh ---------------------------------------------------------------

class PlacemeshWriter final : public Writer {
 public:
  PlacemeshWriter(std::uint16_t port, std::string token, std::string centre)
      : http_(port, std::move(token)), centre_(std::move(centre)) {}
  bool increment(const std::string& pool, std::int64_t) override {
    // op_ids are unique over the whole run: a repeated one would be a replay, not counted.
    static std::atomic<std::uint64_t> serial{0};
    const std::string body = "{\"count\":1,\"op_id\":\"compare-" + centre_ + "-" + std::to_string(++serial) + "\"}";
    return http_.post("/v1/pools/" + pool + "/admit", body) == 200;
  }

 private:
  bench::RawHttpClient http_;
  std::string centre_;
};

class PlacemeshReader final : public Reader {
 public:
  PlacemeshReader(std::uint16_t port, std::string token) : http_(port, std::move(token)) {}
  std::optional<std::map<std::string, std::int64_t>> read() override {
    if (http_.get("/v1/board") != 200) return std::nullopt;
    const auto board = json::parse(http_.body(), nullptr, false);
    if (board.is_discarded()) return std::nullopt;
    std::map<std::string, std::int64_t> out;
    for (const auto& centre : board["centres"])
      for (const auto& pool : centre["pools"]) out[pool["id"].get<std::string>()] = pool["occupied"].get<std::int64_t>();
    return out;
  }

 private:
  bench::RawHttpClient http_;
};

class PlacemeshSystem final : public System {
 public:
  explicit PlacemeshSystem(const std::filesystem::path& dir) : mesh_(dir, false) {}
  std::string name() const override { return "placemesh"; }
  std::string setup() const override {
    return "7 nodes (HQ + 6 centres), each its own LMDB synced at every group commit; a centre writes to its own "
           "node, HQ reads its own";
  }
  std::unique_ptr<Writer> writer(std::size_t centre) override {
    const std::string& name = centre_pools().at(centre).first;
    return std::make_unique<PlacemeshWriter>(mesh_.port(name), mesh_.token(tools::operator_token_name(name)), name);
  }
  std::unique_ptr<Reader> reader() override {
    return std::make_unique<PlacemeshReader>(mesh_.port("HQ"), mesh_.token("viewer"));
  }
  std::string work_done(std::size_t increments) const override {
    double received = 0, added = 0;
    for (const auto& node : mesh_.names()) {
      received += mesh_.metric_sum(node, "placemesh_peer_records_received_total");
      added += mesh_.metric_sum(node, "placemesh_peer_records_added_total");
    }
    char text[200];
    std::snprintf(text, sizeof text,
                  "the nodes received %.1f record copies per increment (pushes and relays; heartbeats included), "
                  "%.1f of them new",
                  received / static_cast<double>(increments), added / static_cast<double>(increments));
    return text;
  }

 protected:
  void signal_counterparts(int number) override {
    for (const auto& node : mesh_.names())
      if (node != cut_centre()) mesh_.signal(node, number);
  }
  void before_freeze(milliseconds) override {
    const auto count = hq_count();
    if (!count) die("HQ's board did not answer");
    before_ = *count;
  }
  CutOff admit_alone(milliseconds deadline) override {
    tools::HttpClient client({"127.0.0.1", mesh_.port(cut_centre())}, deadline);
    const auto outcome = client.request("POST", "/v1/pools/" + cut_pool() + "/admit",
                                        "{\"count\":1,\"op_id\":\"compare-cut\"}",
                                        mesh_.token(tools::operator_token_name(cut_centre())));
    CutOff result;
    result.recorded = outcome.response && outcome.response->status == 200;
    result.said = outcome.response ? std::to_string(outcome.response->status) + " (acknowledged once durable on " +
                                         cut_centre() + "'s own disk)"
                                   : outcome.failure.message;
    return result;
  }
  std::optional<double> at_hq_after_thaw() override {
    const auto thawed = Clock::now();
    while (ms_since(thawed) < 60'000) {
      if (hq_count().value_or(before_) > before_) return ms_since(thawed);
      std::this_thread::sleep_for(milliseconds(5));
    }
    return std::nullopt;
  }

 private:
  static const std::string& cut_centre() { return centre_pools().back().first; }
  static const std::string& cut_pool() { return centre_pools().back().second.front(); }
  // HQ's occupied count of the cut-off pool.
  std::optional<std::int64_t> hq_count() {
    PlacemeshReader hq(mesh_.port("HQ"), mesh_.token("viewer"));
    const auto board = hq.read();
    if (!board) return std::nullopt;
    return board->at(cut_pool());
  }

  tools::RunningMesh mesh_;
  std::int64_t before_ = -1;
};

// ---- etcd --------------------------------------------------------------------

std::string etcd_put(const std::string& pool, std::int64_t total) {
  return json{{"key", base64("/pools/" + pool)}, {"value", base64(std::to_string(total))}}.dump();
}

class EtcdWriter final : public Writer {
 public:
  explicit EtcdWriter(std::uint16_t port) : http_(port, "") {}
  bool increment(const std::string& pool, std::int64_t total) override {
    return http_.post("/v3/kv/put", etcd_put(pool, total)) == 200;
  }

 private:
  bench::RawHttpClient http_;
};

class EtcdReader final : public Reader {
 public:
  explicit EtcdReader(std::uint16_t port) : http_(port, "") {}
  std::optional<std::map<std::string, std::int64_t>> read() override {
    static const std::string range = json{{"key", base64("/pools/")}, {"range_end", base64("/pools0")}}.dump();
    if (http_.post("/v3/kv/range", range) != 200) return std::nullopt;
    const auto answer = json::parse(http_.body(), nullptr, false);
    if (answer.is_discarded()) return std::nullopt;
    std::map<std::string, std::int64_t> out;
    for (const auto& pool : every_pool()) out[pool] = 0;
    if (answer.contains("kvs"))
      for (const auto& kv : answer["kvs"])
        out[unbase64(kv["key"].get<std::string>()).substr(7)] = std::stoll(unbase64(kv["value"].get<std::string>()));
    return out;
  }

 private:
  bench::RawHttpClient http_;
};

class EtcdSystem final : public System {
 public:
  explicit EtcdSystem(const std::filesystem::path& dir) : cluster_(dir), name_(named("etcd", "etcd --version")) {}
  std::string name() const override { return name_; }
  std::string setup() const override {
    return "3 members (Raft; each fsyncs its WAL); writer i talks to member i mod 3 and puts its pool's new total, "
           "HQ reads a range from member 0";
  }
  std::unique_ptr<Writer> writer(std::size_t centre) override {
    return std::make_unique<EtcdWriter>(cluster_.client_port(static_cast<int>(centre % EtcdCluster::members)));
  }
  std::unique_ptr<Reader> reader() override { return std::make_unique<EtcdReader>(cluster_.client_port(0)); }

 protected:
  void before_freeze(milliseconds) override {
    const auto counts = EtcdReader(cluster_.client_port(own())).read();
    if (!counts) die("etcd did not answer a range");
    before_ = counts->at(pool());
  }
  void signal_counterparts(int number) override {
    for (int member = 0; member < EtcdCluster::members; ++member)
      if (member != own()) cluster_.signal(member, number);
  }
  CutOff admit_alone(milliseconds deadline) override {
    tools::HttpClient client({"127.0.0.1", cluster_.client_port(own())}, deadline);
    const auto outcome = client.request("POST", "/v3/kv/put", etcd_put(pool(), before_ + 1));
    CutOff result;
    result.recorded = outcome.response && outcome.response->status == 200;
    result.said = outcome.response ? std::to_string(outcome.response->status) + " " + outcome.response->body
                                   : outcome.failure.message + " (member m" + std::to_string(own()) +
                                         " cannot reach a majority)";
    return result;
  }

 private:
  // The member the last centre's writer talks to, and its pool.
  static int own() { return static_cast<int>((centre_pools().size() - 1) % EtcdCluster::members); }
  static const std::string& pool() { return centre_pools().back().second.front(); }

  EtcdCluster cluster_;
  std::string name_;
  std::int64_t before_ = 0;
};

// ---- Redis -------------------------------------------------------------------

// RESP over one blocking connection, with a receive deadline.
class RespClient {
 public:
  RespClient(std::uint16_t port, milliseconds timeout) : fd_(bench::connect_loopback(port)) {
    if (fd_ < 0) die("cannot connect to redis on port " + std::to_string(port));
    timeval limit{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  ~RespClient() { ::close(fd_); }
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;

  // Sends a command; the integers or bulk strings of the reply (a nil is
  // "0"); nullopt on an error reply, a timeout or a closed connection.
  std::optional<std::vector<std::string>> command(const std::vector<std::string>& words) {
    std::string request = "*" + std::to_string(words.size()) + "\r\n";
    for (const auto& word : words) request += "$" + std::to_string(word.size()) + "\r\n" + word + "\r\n";
    if (!bench::send_all(fd_, request)) return std::nullopt;
    buffer_.clear();
    for (;;) {
      std::size_t at = 0;
      std::vector<std::string> values;
      const int parsed = parse(at, values);
      if (parsed > 0) return values;
      if (parsed < 0) return std::nullopt;
      char chunk[4096];
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  // 1 complete, 0 needs more bytes, -1 an error reply.
  int parse(std::size_t& at, std::vector<std::string>& values) const {
    const auto line_end = buffer_.find("\r\n", at);
    if (line_end == std::string::npos) return 0;
    const char type = buffer_[at];
    const std::string line = buffer_.substr(at + 1, line_end - at - 1);
    at = line_end + 2;
    if (type == '-') return -1;
    if (type == ':' || type == '+') {
      values.push_back(line);
      return 1;
    }
    if (type == '$') {
      const long length = std::stol(line);
      if (length < 0) {
        values.emplace_back("0");
        return 1;
      }
      if (buffer_.size() < at + static_cast<std::size_t>(length) + 2) return 0;
      values.push_back(buffer_.substr(at, static_cast<std::size_t>(length)));
      at += static_cast<std::size_t>(length) + 2;
      return 1;
    }
    if (type == '*') {
      const long count = std::stol(line);
      for (long i = 0; i < count; ++i) {
        const int parsed = parse(at, values);
        if (parsed <= 0) return parsed;
      }
      return 1;
    }
    return -1;
  }

  int fd_;
  std::string buffer_;
};

class RedisWriter final : public Writer {
 public:
  explicit RedisWriter(std::uint16_t port) : client_(port, milliseconds(30'000)) {}
  bool increment(const std::string& pool, std::int64_t) override {
    return client_.command({"INCR", "pools/" + pool}).has_value();
  }

 private:
  RespClient client_;
};

class RedisReader final : public Reader {
 public:
  explicit RedisReader(std::uint16_t port) : client_(port, milliseconds(30'000)) {
    words_ = {"MGET"};
    for (const auto& pool : every_pool()) words_.push_back("pools/" + pool);
  }
  std::optional<std::map<std::string, std::int64_t>> read() override {
    const auto values = client_.command(words_);
    if (!values || values->size() + 1 != words_.size()) return std::nullopt;
    std::map<std::string, std::int64_t> out;
    for (std::size_t i = 0; i < values->size(); ++i) out[words_[i + 1].substr(6)] = std::stoll((*values)[i]);
    return out;
  }

 private:
  RespClient client_;
  std::vector<std::string> words_;
};

class RedisSystem final : public System {
 public:
  explicit RedisSystem(const std::filesystem::path& dir)
      : server_(dir, tools::free_port()), name_(named("Redis", "redis-server --version")) {}
  std::string name() const override { return name_; }
  std::string setup() const override {
    return "1 server, appendonly yes, appendfsync always; INCR per pool, HQ reads MGET";
  }
  std::unique_ptr<Writer> writer(std::size_t) override { return std::make_unique<RedisWriter>(server_.port()); }
  std::unique_ptr<Reader> reader() override { return std::make_unique<RedisReader>(server_.port()); }

 protected:
  void before_freeze(milliseconds deadline) override { client_ = std::make_unique<RespClient>(server_.port(), deadline); }
  void signal_counterparts(int number) override { server_.signal(number); }
  CutOff admit_alone(milliseconds) override {
    CutOff result;
    result.recorded = client_->command({"INCR", "pools/" + centre_pools().back().second.front()}).has_value();
    result.said = result.recorded ? "acknowledged" : "no answer (the primary is out of reach)";
    client_.reset();
    return result;
  }

 private:
  RedisServer server_;
  std::string name_;
  std::unique_ptr<RespClient> client_;  // the cut-off writer's, connected before the freeze
};

// ---- PostgreSQL --------------------------------------------------------------

class PgConnection {
 public:
  explicit PgConnection(const std::string& conninfo) : connection_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(connection_) != CONNECTION_OK) die(std::string("postgres: ") + PQerrorMessage(connection_));
  }
  ~PgConnection() { PQfinish(connection_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  [[nodiscard]] PGconn* get() const { return connection_; }
  // Runs a statement that must succeed.
  void must(const std::string& sql) {
    PGresult* result = PQexec(connection_, sql.c_str());
    const auto status = PQresultStatus(result);
    const std::string error = PQresultErrorMessage(result);
    PQclear(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) die("postgres: " + sql + ": " + error);
  }

 private:
  PGconn* connection_;
};

constexpr const char* increment_sql = "UPDATE pools SET occupied = occupied + 1 WHERE id = $1";

class PostgresWriter final : public Writer {
 public:
  explicit PostgresWriter(const std::string& conninfo) : connection_(conninfo) {
    PGresult* prepared = PQprepare(connection_.get(), "increment", increment_sql, 1, nullptr);
    if (PQresultStatus(prepared) != PGRES_COMMAND_OK) die(std::string("postgres: ") + PQresultErrorMessage(prepared));
    PQclear(prepared);
  }
  bool increment(const std::string& pool, std::int64_t) override {
    const char* values[] = {pool.c_str()};
    PGresult* result = PQexecPrepared(connection_.get(), "increment", 1, values, nullptr, nullptr, 0);
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK && std::string(PQcmdTuples(result)) == "1";
    PQclear(result);
    return ok;
  }

 private:
  PgConnection connection_;
};

class PostgresReader final : public Reader {
 public:
  explicit PostgresReader(const std::string& conninfo) : connection_(conninfo) {}
  std::optional<std::map<std::string, std::int64_t>> read() override {
    PGresult* result = PQexec(connection_.get(), "SELECT id, occupied FROM pools");
    std::optional<std::map<std::string, std::int64_t>> out;
    if (PQresultStatus(result) == PGRES_TUPLES_OK) {
      out.emplace();
      for (int row = 0; row < PQntuples(result); ++row)
        (*out)[PQgetvalue(result, row, 0)] = std::stoll(PQgetvalue(result, row, 1));
    }
    PQclear(result);
    return out;
  }

 private:
  PgConnection connection_;
};

class PostgresSystem final : public System {
 public:
  explicit PostgresSystem(const std::filesystem::path& dir)
      : server_(dir, tools::free_port()), name_(named("PostgreSQL", server_.postgres_binary() + " --version")) {
    PgConnection setup(server_.conninfo());
    setup.must("CREATE TABLE pools (id text PRIMARY KEY, occupied bigint NOT NULL)");
    for (const auto& pool : every_pool()) setup.must("INSERT INTO pools VALUES ('" + pool + "', 0)");
  }
  std::string name() const override { return name_; }
  std::string setup() const override {
    return "1 server, synchronous_commit on, fsync on; UPDATE … SET occupied = occupied + 1 per transaction, HQ "
           "reads SELECT";
  }
  std::unique_ptr<Writer> writer(std::size_t) override {
    return std::make_unique<PostgresWriter>(server_.conninfo());
  }
  std::unique_ptr<Reader> reader() override { return std::make_unique<PostgresReader>(server_.conninfo()); }

 protected:
  void before_freeze(milliseconds) override { client_ = std::make_unique<PgConnection>(server_.conninfo()); }
  void signal_counterparts(int number) override { server_.signal(number); }
  CutOff admit_alone(milliseconds deadline) override {
    const auto start = Clock::now();
    const char* values[] = {centre_pools().back().second.front().c_str()};
    PGconn* connection = client_->get();
    CutOff result;
    bool answered = false;
    if (PQsendQueryParams(connection, increment_sql, 1, nullptr, values, nullptr, nullptr, 0) == 1) {
      while (!answered && ms_since(start) < static_cast<double>(deadline.count())) {
        pollfd entry{PQsocket(connection), POLLIN, 0};
        const auto left = static_cast<int>(static_cast<double>(deadline.count()) - ms_since(start));
        if (::poll(&entry, 1, std::max(left, 1)) <= 0) continue;
        PQconsumeInput(connection);
        if (PQisBusy(connection)) continue;
        answered = true;
        while (PGresult* r = PQgetResult(connection)) {
          result.recorded = PQresultStatus(r) == PGRES_COMMAND_OK;
          PQclear(r);
        }
      }
    }
    result.said = answered ? (result.recorded ? "acknowledged" : "refused") : "no answer (the primary is out of reach)";
    client_.reset();
    return result;
  }

 private:
  PostgresServer server_;
  std::string name_;
  std::unique_ptr<PgConnection> client_;  // the cut-off writer's, connected before the freeze
};

}  // namespace

CutOff System::cut_off(milliseconds deadline) {
  before_freeze(deadline);
  signal_counterparts(SIGSTOP);
  const auto start = Clock::now();
  CutOff result = admit_alone(deadline);
  result.answer_ms = ms_since(start);
  std::this_thread::sleep_until(start + deadline);  // the same freeze for every system
  signal_counterparts(SIGCONT);
  if (result.recorded) result.at_hq_ms = at_hq_after_thaw();
  return result;
}

const Pools& centre_pools() {
  static const Pools pools = [] {
    Pools out;
    for (const auto& node : tools::design_network(0).nodes) {
      if (node.role != "centre") continue;
      std::vector<std::string> ids;
      for (const auto& pool : node.pools) ids.push_back(node.name + "/" + pool.unit);
      out.emplace_back(node.name, ids);
    }
    return out;
  }();
  return pools;
}

std::unique_ptr<System> start_placemesh(const std::filesystem::path& dir) {
  return std::make_unique<PlacemeshSystem>(dir);
}
std::unique_ptr<System> start_etcd(const std::filesystem::path& dir) { return std::make_unique<EtcdSystem>(dir); }
std::unique_ptr<System> start_redis(const std::filesystem::path& dir) { return std::make_unique<RedisSystem>(dir); }
std::unique_ptr<System> start_postgres(const std::filesystem::path& dir) {
  return std::make_unique<PostgresSystem>(dir);
}

}  // namespace placemesh::compare
