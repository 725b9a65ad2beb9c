#include "tools/lab/local_network.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "crdt/limits.hpp"
#include "net/identity.hpp"
#include "node/tokens.hpp"
#include "tools/network_plan.hpp"

extern char** environ;

namespace placemesh::tools {

std::uint16_t free_port() {
  // Ports below the kernel's ephemeral range (32768 and up by default), so
  // that outgoing connections of other tests cannot take a port between this
  // check and the daemon's bind; drawn at random so parallel tests rarely meet.
  // A port handed out once is not handed out again by this process: a plan
  // draws all its ports before any daemon binds, so the bind check alone
  // could give two nodes of one network the same port.
  static std::mt19937 random{std::random_device{}()};
  static std::set<std::uint16_t> handed_out;
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  std::uniform_int_distribution<int> pick(20'000, 32'000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<std::uint16_t>(pick(random));
    if (handed_out.contains(port)) continue;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    if (free) {
      handed_out.insert(port);
      return port;
    }
  }
  throw std::runtime_error("cannot find a free loopback port in 20000-32000");
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

namespace {

NetworkPlan small_network() {
  NetworkPlan plan;
  plan.network = "test";
  plan.nodes = {{"CIM", "Merksplas", "centre", {{"men", "men", 110}}, free_port(), free_port(), 0},
                {"CIB", "Bruges", "centre", {{"men", "men", 80}, {"women", "women", 32}}, free_port(), free_port(), 0},
                {"HQ", "Brussels headquarters", "hq", {}, free_port(), free_port(), 0}};
  return plan;
}

}  // namespace

NetworkPlan quickstart_on_free_ports(bool proxied) {
  NetworkPlan plan = design_network(0);
  plan.network = "test";
  for (auto& node : plan.nodes) {
    node.api_port = free_port();
    node.gossip_port = free_port();
    if (proxied) node.advertised_port = free_port();
  }
  return plan;
}

LocalNetwork::LocalNetwork(std::filesystem::path dir) : LocalNetwork(std::move(dir), small_network()) {}

LocalNetwork::LocalNetwork(std::filesystem::path dir, const NetworkPlan& plan) : dir_(std::move(dir)) {
  auto written = write_network(plan, dir_);
  if (!written) throw std::runtime_error(written.error().message());
  dir_ = written.value().dir;
  for (const auto& [name, node] : written.value().nodes) {
    nodes_[name] = TestNode{name, node.config, node.data_dir, node.api_port, node.host};
    write_file(node.config, read_file(node.config) + "\n[api]\n");  // for set_api
  }
  tokens_ = written.value().tokens;
  // The lab drives its tokens far harder than any desk or case system
  // (benchmarks, the fault campaign's writers): each gets the largest budget
  // of changes. A token from add_token() has the node's, which
  // tests/node/api_limits_test.cpp and the campaign check.
  std::istringstream in(read_file(tokens_file()));
  std::string line, text;
  while (std::getline(in, line)) {
    text += line + "\n";
    if (line.rfind("hash = ", 0) == 0)
      text += "operations_per_minute = " + std::to_string(limits::api_operations_per_minute_max) + "\n";
  }
  write_file(tokens_file(), text);
}

std::filesystem::path LocalNetwork::tokens_file() const { return dir_ / "tokens.toml"; }

const std::string& LocalNetwork::add_token(const std::string& name, const std::string& role,
                                           const std::string& centre) {
  const std::string token = new_token();
  std::string block = "\n[[token]]\nname = \"" + name + "\"\nrole = \"" + role + "\"\n";
  if (!centre.empty()) block += "centre = \"" + centre + "\"\n";
  block += "hash = \"" + hash_token(token) + "\"\n";
  write_file(tokens_file(), read_file(tokens_file()) + block);
  return tokens_[name] = token;
}

void LocalNetwork::set_api(const std::string& node, const std::string& key, const std::string& value) {
  const auto& path = nodes_.at(node).config;
  std::istringstream in(read_file(path));
  std::string line, text;
  bool in_api = false, replaced = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.front() == '[') in_api = line == "[api]";
    if (in_api && line.rfind(key + " =", 0) == 0) {
      line = key + " = " + value;
      replaced = true;
    }
    text += line + "\n";
  }
  // The lab's configs end with their [api] table.
  if (!replaced) text += key + " = " + value + "\n";
  write_file(path, text);
}

void LocalNetwork::set_config(const std::string& node, const std::string& key, const std::string& value) {
  const auto& path = nodes_.at(node).config;
  std::istringstream in(read_file(path));
  std::string line, text;
  bool replaced = false;
  while (std::getline(in, line)) {
    if (line.rfind(key + " =", 0) == 0) {
      line = key + " = " + value;
      replaced = true;
    }
    text += line + "\n";
  }
  if (!replaced) text = key + " = " + value + "\n" + text;
  write_file(path, text);
}

Daemon::Daemon(const std::filesystem::path& config, const std::filesystem::path& log,
               const std::vector<std::string>& wrapper)
    : log_(log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // Nothing else of ours: a node that inherited a test's sockets (a fault
  // proxy's connections, say) would keep them open after the test closed them.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  std::vector<std::string> words = wrapper;
  words.insert(words.end(), {PLACEMESHD_PATH, "--config", config.string()});
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + words[0]);
}

Daemon::~Daemon() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    (void)wait_exit(std::chrono::seconds(10));
  }
}

bool Daemon::running() {
  if (status_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    status_ = status;
    return false;
  }
  return true;
}

void Daemon::signal(int number) {
  if (running()) ::kill(pid_, number);
}

std::optional<int> Daemon::wait_exit(std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (running()) {
    if (std::chrono::steady_clock::now() > until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a condition with a deadline
  }
  return status_;
}

bool Daemon::wait_ready(const Url& url, std::chrono::milliseconds deadline, std::string& why) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (!running()) {
      why = "placemeshd exited: " + read_file(log_);
      return false;
    }
    HttpClient client(url, std::chrono::milliseconds(500));
    auto outcome = client.request("GET", "/healthz");
    if (outcome.response && outcome.response->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  why = "placemeshd did not answer /healthz in time: " + read_file(log_);
  return false;
}

RunResult run_placemeshd(const std::filesystem::path& config, std::chrono::milliseconds deadline) {
  const auto log = config.parent_path() / "refused.log";
  std::error_code ec;
  std::filesystem::remove(log, ec);
  RunResult result;
  {
    Daemon daemon(config, log);
    auto status = daemon.wait_exit(deadline);
    if (status && WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  }
  result.output = read_file(log);
  return result;
}

}  // namespace placemesh::tools
