#include "tests/faults/cluster.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <stdexcept>

#include "tools/lab/http_client.hpp"

namespace placemesh::faults {

namespace {

constexpr auto node_deadline = std::chrono::seconds(30);

tools::NetworkPlan campaign_plan() {
  tools::NetworkPlan plan = tools::design_network(0);
  plan.network = "faults";
  plan.nodes.push_back({spare_hq, "Brussels headquarters (spare)", "hq", {}, 0, 0, 0});
  return plan;
}

}  // namespace

Cluster::Cluster(const std::filesystem::path& dir) : plan_(campaign_plan()) {
  std::vector<std::string> every;
  for (const auto& node : plan_.nodes) {
    every.push_back(node.name);
    if (node.name != spare_hq) nodes_.push_back(node.name);
  }
  spaces_ = std::make_unique<test::Namespaces>(every, "10.78.0.");
  for (auto& node : plan_.nodes) {
    node.host = spaces_->address(node.name);
    node.api_port = api_port;
    node.gossip_port = gossip_port;
    node.advertised_port = proxy_port;
  }
  network_ = std::make_unique<tools::LocalNetwork>(dir, plan_);
  // A desk token with the node's own budget of changes (the writers' tokens
  // have the lab's largest): the "staff token in a loop" step uses it.
  network_->add_token(loop_token, "operator", "CIM");
  for (const auto& node : plan_.nodes) configs_[node.name] = tools::read_file(network_->node(node.name).config);
  for (const auto& node : plan_.nodes) {
    // Made inside the node's namespace: the proxy's sockets and thread live there.
    test::Entered inside(spaces_->ns(node.name));
    proxies_[node.name] = std::make_unique<tools::FaultProxy>(node.host, proxy_port, gossip_port);
  }
  controller_ = std::make_unique<test::Entered>(spaces_->ns("ctl"));
  for (const auto& node : nodes_) start(node);
}

Cluster::~Cluster() {
  daemons_.clear();  // SIGKILL whatever still runs, before its namespace goes
  proxies_.clear();
  controller_.reset();
}

std::vector<std::string> Cluster::centres() const { return all_but({"HQ"}); }

std::vector<std::string> Cluster::all_but(const std::vector<std::string>& left_out) const {
  std::vector<std::string> out;
  for (const auto& node : nodes_)
    if (std::find(left_out.begin(), left_out.end(), node) == left_out.end()) out.push_back(node);
  return out;
}

std::vector<PoolSpec> Cluster::pools_of(const std::string& centre) const {
  std::vector<PoolSpec> out;
  for (const auto& node : plan_.nodes)
    if (node.name == centre)
      for (const auto& pool : node.pools) out.push_back({centre + "/" + pool.unit, pool.design});
  return out;
}

std::string Cluster::operator_token(const std::string& centre) const {
  return token(tools::operator_token_name(centre));
}

void Cluster::start(const std::string& node, const std::vector<std::string>& extra) {
  auto wrapper = spaces_->exec(node);
  wrapper.insert(wrapper.end(), extra.begin(), extra.end());
  daemons_[node] = std::make_unique<tools::Daemon>(network_->node(node).config, log(node), wrapper);
  std::string why;
  if (!daemons_[node]->wait_ready(url(node), node_deadline, why)) throw std::runtime_error(node + ": " + why);
}

void Cluster::stop(const std::string& node) {
  auto& daemon = *daemons_.at(node);
  daemon.signal(SIGCONT);  // a frozen node must be able to drain
  daemon.signal(SIGTERM);
  const auto status = daemon.wait_exit(node_deadline);
  if (!status) throw std::runtime_error(node + " did not stop within 30 s of SIGTERM");
  // A clean stop is exit 0; anything else (a sanitizer's abort, say) is a bug.
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    throw std::runtime_error(node + " did not stop cleanly on SIGTERM (wait status " + std::to_string(*status) +
                             "); see " + log(node).string());
}

void Cluster::kill(const std::string& node) {
  auto& daemon = *daemons_.at(node);
  daemon.signal(SIGKILL);
  if (!daemon.wait_exit(node_deadline)) throw std::runtime_error(node + " did not exit after SIGKILL");
}

void Cluster::freeze(const std::string& node) { daemons_.at(node)->signal(SIGSTOP); }
void Cluster::thaw(const std::string& node) { daemons_.at(node)->signal(SIGCONT); }
void Cluster::reload(const std::string& node) { daemons_.at(node)->signal(SIGHUP); }

void Cluster::wipe(const std::string& node) {
  if (running(node)) throw std::runtime_error("wipe " + node + ": stop it first");
  std::filesystem::remove_all(network_->node(node).data_dir);
}

void Cluster::heal_everything() {
  std::vector<std::string> every;
  for (const auto& node : plan_.nodes) every.push_back(node.name);
  spaces_->heal(every);
  for (auto& [name, proxy] : proxies_) {
    proxy->set_delay(std::chrono::milliseconds(0));
    proxy->hold(false);
    proxy->restore();
  }
  for (auto& [name, daemon] : daemons_) daemon->signal(SIGCONT);
  if (running(spare_hq)) stop(spare_hq);
  for (const auto& node : nodes_) {
    if (running(node)) continue;
    restore_config(node);
    start(node);
  }
}

void Cluster::append_config(const std::string& node, const std::string& toml) {
  std::ofstream(network_->node(node).config, std::ios::app) << "\n" << toml;
}

void Cluster::restore_config(const std::string& node) {
  std::ofstream(network_->node(node).config, std::ios::trunc) << configs_.at(node);
}

bool Cluster::running(const std::string& node) {
  const auto found = daemons_.find(node);
  return found != daemons_.end() && found->second->running();
}

std::optional<nlohmann::json> Cluster::get(const std::string& node, const std::string& path) const {
  tools::HttpClient client(url(node), std::chrono::seconds(5));
  auto outcome = client.request("GET", path, "", token("admin"));
  if (!outcome.response || outcome.response->status != 200) return std::nullopt;
  auto json = nlohmann::json::parse(outcome.response->body, nullptr, false);
  if (json.is_discarded()) return std::nullopt;
  return json;
}

std::optional<nlohmann::json> Cluster::board(const std::string& node) const { return get(node, "/v1/board"); }

std::string Cluster::link_state(const std::string& node, const std::string& peer) const {
  const auto status = get(node, "/v1/status");
  if (!status) return "unanswered";
  for (const auto& entry : (*status)["peers"])
    if (entry["name"] == peer) return entry["state"].get<std::string>();
  return "missing";
}

int Cluster::links_up(const std::string& node) const {
  const auto status = get(node, "/v1/status");
  if (!status) return -1;
  int up = 0;
  for (const auto& peer : (*status)["peers"]) up += peer["state"] == "up" ? 1 : 0;
  return up;
}

std::uint64_t Cluster::rejections(const std::string& reason) const {
  std::uint64_t total = 0;
  for (const auto& node : nodes_)
    if (const auto status = get(node, "/v1/status")) total += (*status)["rejections"].value(reason, std::uint64_t{0});
  return total;
}

std::string Cluster::roster_text() const { return tools::read_file(dir() / "roster.toml"); }

}  // namespace placemesh::faults
