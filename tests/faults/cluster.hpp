#pragma once
// The fault campaign's network: the quickstart's seven nodes (HQ and the six
// closed centres) plus HQ2, a spare headquarters node that the campaign
// revokes, each in its own network namespace (tests/support/namespaces.hpp)
// as a real placemeshd process. Every node's gossip is reached through a
// fault proxy in its own namespace (advertised port 7001, relaying to 7000),
// so delays can be put on every link. The campaign works from the controller
// namespace.
//
// Thread contract: one campaign thread calls everything; constructing it
// enters the controller namespace for that thread until destruction, so
// threads started later (the writers) live there too. Errors are
// exceptions (std::runtime_error) that say what failed.

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/faults/workload.hpp"
#include "tests/support/namespaces.hpp"
#include "tools/lab/fault_proxy.hpp"
#include "tools/lab/local_network.hpp"

namespace placemesh::faults {

inline constexpr std::uint16_t gossip_port = 7000;
inline constexpr std::uint16_t proxy_port = 7001;  // what the roster advertises
inline constexpr std::uint16_t api_port = 8400;
inline const std::string spare_hq = "HQ2";

class Cluster {
 public:
  // Writes the network into `dir` and starts the seven nodes (not HQ2).
  explicit Cluster(const std::filesystem::path& dir);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // The seven nodes of the board (HQ first), and the six centres.
  [[nodiscard]] const std::vector<std::string>& nodes() const { return nodes_; }
  [[nodiscard]] std::vector<std::string> centres() const;
  [[nodiscard]] std::vector<std::string> all_but(const std::vector<std::string>& left_out) const;
  [[nodiscard]] std::vector<PoolSpec> pools_of(const std::string& centre) const;
  [[nodiscard]] const tools::NetworkPlan& plan() const { return plan_; }

  [[nodiscard]] test::Namespaces& spaces() { return *spaces_; }
  [[nodiscard]] tools::FaultProxy& proxy(const std::string& node) { return *proxies_.at(node); }
  [[nodiscard]] tools::Url url(const std::string& node) const { return network_->node(node).url(); }
  // The running node's process (for its CPU time).
  [[nodiscard]] pid_t pid(const std::string& node) const { return daemons_.at(node)->pid(); }
  [[nodiscard]] const std::string& token(const std::string& name) const { return network_->token(name); }
  // An operator token of CIM with the node's default budget of changes.
  static constexpr const char* loop_token = "cim-desk-loop";
  [[nodiscard]] std::string operator_token(const std::string& centre) const;
  [[nodiscard]] const std::filesystem::path& dir() const { return network_->dir(); }
  [[nodiscard]] std::filesystem::path log(const std::string& node) const { return dir() / (node + ".log"); }

  // Process control. `extra` goes between `ip netns exec NS` and placemeshd
  // (e.g. an env with LD_PRELOAD for libfaketime). start waits for /healthz.
  void start(const std::string& node, const std::vector<std::string>& extra = {});
  void stop(const std::string& node);  // SIGTERM; waits for a clean exit
  void kill(const std::string& node);  // SIGKILL; waits for the exit
  void freeze(const std::string& node);
  void thaw(const std::string& node);
  void reload(const std::string& node);  // SIGHUP: the node reads its config again
  void wipe(const std::string& node);  // removes its data directory; the node must be stopped
  [[nodiscard]] bool running(const std::string& node);
  // Undoes whatever a broken step may have left: every nft rule flushed,
  // every proxy back to plain relaying, every node thawed, the seven
  // running again with their original configs, HQ2 stopped.
  void heal_everything();
  // Appends TOML to a node's config (it takes effect at its next start or
  // reload); restore_config puts back the config as written.
  void append_config(const std::string& node, const std::string& toml);
  void restore_config(const std::string& node);

  // GET with the admin token; nullopt when the node does not answer 200.
  [[nodiscard]] std::optional<nlohmann::json> get(const std::string& node, const std::string& path) const;
  [[nodiscard]] std::optional<nlohmann::json> board(const std::string& node) const;
  // The state of `peer`'s link as `node` reports it ("up", "waiting", …).
  [[nodiscard]] std::string link_state(const std::string& node, const std::string& peer) const;
  // How many of `node`'s links are up (-1 when it does not answer).
  [[nodiscard]] int links_up(const std::string& node) const;
  // A rejection count (net/PROTOCOL.md §6) summed over the seven nodes.
  [[nodiscard]] std::uint64_t rejections(const std::string& reason) const;

  // The roster as written (signed, version 1), and the admin key's file.
  [[nodiscard]] std::string roster_text() const;
  [[nodiscard]] std::filesystem::path admin_key_file() const { return dir() / "keys" / "admin.key"; }
  [[nodiscard]] std::filesystem::path key_file(const std::string& node) const {
    return dir() / "keys" / (node + ".key");
  }

 private:
  tools::NetworkPlan plan_;
  std::vector<std::string> nodes_;
  std::unique_ptr<test::Namespaces> spaces_;
  std::unique_ptr<test::Entered> controller_;
  std::unique_ptr<tools::LocalNetwork> network_;
  std::map<std::string, std::unique_ptr<tools::FaultProxy>> proxies_;
  std::map<std::string, std::unique_ptr<tools::Daemon>> daemons_;
  std::map<std::string, std::string> configs_;  // as written, for heal_everything()
};

}  // namespace placemesh::faults
