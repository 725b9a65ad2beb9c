#pragma once
// A small network written to one folder (keys with mode 0600, roster,
// tokens, one config per node, free loopback ports) and real placemeshd
// processes started from it: for the tests and placemesh-bench.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tools/lab/http_client.hpp"
#include "tools/network_plan.hpp"

namespace placemesh::tools {

struct TestNode {
  std::string name;
  std::filesystem::path config;
  std::filesystem::path data_dir;
  std::uint16_t api_port = 0;
  std::string host = "127.0.0.1";
  [[nodiscard]] Url url() const { return {host, api_port}; }
};

// CIM (men 110), CIB (men 80, women 32) and HQ. Tokens by name:
// admin, viewer, dispatcher, cim (operator of CIM), cib (operator of CIB).
class LocalNetwork {
 public:
  // Writes the network into `dir` (created; left in place).
  explicit LocalNetwork(std::filesystem::path dir);
  // Writes another plan (ports already chosen).
  LocalNetwork(std::filesystem::path dir, const NetworkPlan& plan);

  [[nodiscard]] const TestNode& node(const std::string& name) const { return nodes_.at(name); }
  [[nodiscard]] const std::string& token(const std::string& name) const { return tokens_.at(name); }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  // Rewrites one line "key = ..." of a node's config.
  void set_config(const std::string& node, const std::string& key, const std::string& value);
  // Adds a token to the network's tokens file, with the node's default
  // budget of changes (the lab's own tokens have the largest); nodes
  // started afterwards know it. Returns the token.
  const std::string& add_token(const std::string& name, const std::string& role, const std::string& centre = {});
  [[nodiscard]] std::filesystem::path tokens_file() const;
  // A key of the [api] table (which the lab's configs end with).
  void set_api(const std::string& node, const std::string& key, const std::string& value);

 private:
  std::filesystem::path dir_;
  std::map<std::string, TestNode> nodes_;
  std::map<std::string, std::string> tokens_;
};

[[nodiscard]] std::uint16_t free_port();
// The quickstart's network (HQ and the six closed centres) on free ports;
// with `proxied`, each node advertises another free port for a fault proxy.
[[nodiscard]] NetworkPlan quickstart_on_free_ports(bool proxied);
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

class Daemon {
 public:
  // Starts placemeshd --config CONFIG, output appended to LOG. A wrapper
  // runs it through another command (e.g. {"ip", "netns", "exec", "NS"}).
  Daemon(const std::filesystem::path& config, const std::filesystem::path& log,
         const std::vector<std::string>& wrapper = {});
  ~Daemon();  // SIGKILL if still running
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Waits until /healthz answers; false (with the log in `why`) if the
  // process exited or the deadline passed.
  [[nodiscard]] bool wait_ready(const Url& url, std::chrono::milliseconds deadline, std::string& why);
  void signal(int number);
  // The exit status (as from waitpid) within the deadline, or nullopt.
  [[nodiscard]] std::optional<int> wait_exit(std::chrono::milliseconds deadline);
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
  std::optional<int> status_;
};

// Runs placemeshd to completion (for configs that must be refused).
struct RunResult {
  int exit_code = -1;
  std::string output;
};
[[nodiscard]] RunResult run_placemeshd(const std::filesystem::path& config, std::chrono::milliseconds deadline);

}  // namespace placemesh::tools
