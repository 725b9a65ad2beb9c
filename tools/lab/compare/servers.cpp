#include "tools/lab/compare/servers.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "tools/lab/bench_common.hpp"
#include "tools/lab/local_network.hpp"

extern char** environ;

namespace placemesh::compare {

namespace {

using bench::Clock;
using bench::die;

// Polls `ready` for up to `deadline`; dies with `what` otherwise.
template <typename Ready>
void await_ready(Ready ready, std::chrono::seconds deadline, const std::string& what) {
  const auto until = Clock::now() + deadline;
  while (!ready()) {
    if (Clock::now() > until) die(what);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The newest Debian PostgreSQL server's bin directory.
std::filesystem::path postgres_bin() {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec))
    if (std::filesystem::exists(entry.path() / "bin" / "postgres")) found.push_back(entry.path() / "bin");
  if (found.empty()) die("no PostgreSQL server in /usr/lib/postgresql; run tools/compare/run.sh (it installs postgresql)");
  std::sort(found.begin(), found.end());
  return found.back();
}

}  // namespace

Process::Process(std::vector<std::string> argv, const std::filesystem::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // none of our sockets
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);  // a group of its own, led by the child
  std::vector<char*> words;
  for (auto& word : argv) words.push_back(word.data());
  words.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, words[0], &actions, &attributes, words.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) die("cannot start " + argv[0] + "; run tools/compare/run.sh, which installs it");
}

Process::~Process() {
  if (!running()) return;
  signal(SIGCONT);
  signal(SIGTERM);
  const auto until = Clock::now() + std::chrono::seconds(10);
  while (running() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (running()) {
    signal(SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

void Process::signal(int number) {
  if (exited_) return;
  ::kill(-pid_, number);
  // A freeze must reach children that left the group (PostgreSQL's backends
  // call setsid()); a stop goes to the group only, as the server expects.
  if (number == SIGSTOP || number == SIGCONT)
    for (const pid_t child : bench::descendants(pid_)) ::kill(child, number);
}

bool Process::running() {
  if (exited_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

RedisServer::RedisServer(const std::filesystem::path& dir, std::uint16_t port) : port_(port) {
  std::filesystem::create_directories(dir);
  process_ = std::make_unique<Process>(
      std::vector<std::string>{"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1", "--dir",
                               dir.string(), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                               "--daemonize", "no", "--logfile", (dir / "redis.log").string()},
      dir / "redis.out");
  await_ready(
      [&] {
        const int fd = bench::connect_loopback(port_);
        if (fd >= 0) ::close(fd);
        return fd >= 0;
      },
      std::chrono::seconds(10), "redis-server did not start; see " + (dir / "redis.log").string());
}

EtcdCluster::EtcdCluster(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::string cluster;
  for (int i = 0; i < members; ++i) {
    client_ports_.push_back(tools::free_port());
    peer_ports_.push_back(tools::free_port());
    cluster += (i ? "," : "") + ("m" + std::to_string(i) + "=http://127.0.0.1:" + std::to_string(peer_ports_.back()));
  }
  for (int i = 0; i < members; ++i) {
    const std::string name = "m" + std::to_string(i);
    const std::string client = "http://127.0.0.1:" + std::to_string(client_ports_[static_cast<std::size_t>(i)]);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_ports_[static_cast<std::size_t>(i)]);
    processes_.push_back(std::make_unique<Process>(
        std::vector<std::string>{"etcd", "--name", name, "--data-dir", (dir / name).string(),
                                 "--listen-client-urls", client, "--advertise-client-urls", client,
                                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                 "--initial-cluster", cluster, "--initial-cluster-state", "new",
                                 "--initial-cluster-token", "placemesh-compare"},
        dir / (name + ".log")));
  }
  for (int i = 0; i < members; ++i)
    await_ready(
        [&] {
          const int fd = bench::connect_loopback(client_port(i));
          if (fd < 0) return false;
          ::close(fd);
          bench::RawHttpClient http(client_port(i), "");
          return http.get("/health") == 200 && http.body().find("\"true\"") != std::string_view::npos;
        },
        std::chrono::seconds(30), "etcd member m" + std::to_string(i) + " did not become healthy; see " + dir.string());
}

PostgresServer::PostgresServer(const std::filesystem::path& dir, std::uint16_t port)
    : port_(port), bin_(postgres_bin()) {
  const auto& bin = bin_;
  std::filesystem::create_directories(dir);
  // PostgreSQL refuses to run as root: as root, run it as the postgres user.
  std::vector<std::string> as_user;
  if (::geteuid() == 0) {
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) die("no postgres user (the Debian postgresql package creates it)");
    if (::chown(dir.c_str(), user->pw_uid, user->pw_gid) != 0) die("cannot chown " + dir.string());
    as_user = {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
  }
  auto command = [&](std::vector<std::string> words) {
    words.insert(words.begin(), as_user.begin(), as_user.end());
    return words;
  };
  {
    Process initdb(command({(bin / "initdb").string(), "-D", (dir / "data").string(), "-U", "postgres",
                            "--auth=trust", "-E", "UTF8", "--no-instructions"}),
                   dir / "initdb.log");
    await_ready([&] { return !initdb.running(); }, std::chrono::seconds(120),
                "initdb did not finish; see " + (dir / "initdb.log").string());
  }
  if (!std::filesystem::exists(dir / "data" / "PG_VERSION")) die("initdb failed; see " + (dir / "initdb.log").string());
  process_ = std::make_unique<Process>(
      command({(bin / "postgres").string(), "-D", (dir / "data").string(), "-p", std::to_string(port), "-c",
               "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir.string(), "-c",
               "synchronous_commit=on", "-c", "fsync=on"}),
      dir / "postgres.log");
  await_ready([&] { return PQping(conninfo().c_str()) == PQPING_OK; }, std::chrono::seconds(30),
              "postgres did not start; see " + (dir / "postgres.log").string());
}

std::string PostgresServer::postgres_binary() const { return (bin_ / "postgres").string(); }

std::string PostgresServer::conninfo() const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=postgres connect_timeout=5";
}

}  // namespace placemesh::compare
