// The quickstart network with each node in its own network namespace (ip
// netns, a veth to a bridge that lives in a namespace of its own: nothing
// changes outside the namespaces this test creates and removes), real
// partitions (nft DROP inside the namespaces) and probabilistic loss (nft
// numgen). The test thread itself works from a controller namespace on the
// same bridge. Needs root, iproute2 and nftables; skipped with a message
// otherwise.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "tests/support/campaign.hpp"

using namespace placemesh;
using namespace placemesh::test;

namespace {

constexpr std::uint16_t gossip_port = 7000;
constexpr std::uint16_t api_port = 8400;
const std::string subnet = "10.77.0.";

bool sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

// Why the test cannot run here, if it cannot.
std::optional<std::string> unavailable() {
  if (::geteuid() != 0) return "needs root (ip netns)";
  if (!sh("command -v nft")) return "needs nft (Debian package nftables; deploy/install-deps.sh installs it)";
  const std::string probe = "pm" + std::to_string(::getpid()) + "-probe";
  if (!sh("ip netns add " + probe)) return "ip netns add fails here (no permission for network namespaces?)";
  const bool nft_ok = sh("ip netns exec " + probe + " nft add table inet probe");
  sh("ip netns del " + probe);
  if (!nft_ok) return "nft cannot create a table inside a network namespace (no nf_tables in this kernel?)";
  return std::nullopt;
}

// One namespace per node, a bridge namespace and a controller namespace;
// all removed (with their veths) on destruction.
class Namespaces {
 public:
  explicit Namespaces(const std::vector<std::string>& nodes) : prefix_("pm" + std::to_string(::getpid()) + "-") {
    REQUIRE(sh("ip netns add " + bridge()));
    created_.push_back(bridge());
    REQUIRE(sh("ip netns exec " + bridge() + " ip link add br0 type bridge"));
    REQUIRE(sh("ip netns exec " + bridge() + " ip link set br0 up"));
    for (std::size_t i = 0; i < nodes.size(); ++i) add(nodes[i], subnet + std::to_string(i + 1));
    add("ctl", subnet + "100");
  }
  ~Namespaces() {
    for (const auto& name : created_) sh("ip netns del " + name);
  }
  Namespaces(const Namespaces&) = delete;
  Namespaces& operator=(const Namespaces&) = delete;

  [[nodiscard]] std::string ns(const std::string& node) const { return prefix_ + node; }
  [[nodiscard]] const std::string& address(const std::string& node) const { return addresses_.at(node); }

  // Runs one nft command inside a node's namespace.
  void nft(const std::string& node, const std::string& command) {
    INFO("nft " << command << " in " << ns(node));
    REQUIRE(sh("ip netns exec " + ns(node) + " nft '" + command + "'"));
  }
  // Every node drops gossip traffic at random, both ways.
  void loss(const std::vector<std::string>& nodes, int percent) {
    for (const auto& node : nodes) {
      const std::string p = std::to_string(percent);
      nft(node, "add rule inet pm in tcp dport " + std::to_string(gossip_port) + " numgen random mod 100 < " + p +
                    " drop");
      nft(node, "add rule inet pm in tcp sport " + std::to_string(gossip_port) + " numgen random mod 100 < " + p +
                    " drop");
    }
  }
  // Nothing passes between the two sides (each drops what comes from the other).
  void partition(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    auto set_of = [&](const std::vector<std::string>& side) {
      std::string out;
      for (const auto& node : side) out += (out.empty() ? "" : ", ") + address(node);
      return "{ " + out + " }";
    };
    for (const auto& node : a) nft(node, "add rule inet pm in ip saddr " + set_of(b) + " drop");
    for (const auto& node : b) nft(node, "add rule inet pm in ip saddr " + set_of(a) + " drop");
  }
  void heal(const std::vector<std::string>& nodes) {
    for (const auto& node : nodes) nft(node, "flush chain inet pm in");
  }

 private:
  [[nodiscard]] std::string bridge() const { return prefix_ + "br"; }
  void add(const std::string& node, const std::string& address) {
    const std::string name = ns(node), veth = prefix_ + "v" + std::to_string(created_.size());
    REQUIRE(sh("ip netns add " + name));
    created_.push_back(name);
    REQUIRE(sh("ip link add " + veth + " type veth peer name eth0 netns " + name));
    REQUIRE(sh("ip link set " + veth + " netns " + bridge()));
    REQUIRE(sh("ip netns exec " + bridge() + " ip link set " + veth + " master br0 up"));
    REQUIRE(sh("ip netns exec " + name + " ip addr add " + address + "/24 dev eth0"));
    REQUIRE(sh("ip netns exec " + name + " ip link set eth0 up"));
    REQUIRE(sh("ip netns exec " + name + " ip link set lo up"));
    REQUIRE(sh("ip netns exec " + name + " nft add table inet pm"));
    REQUIRE(sh("ip netns exec " + name + " nft 'add chain inet pm in { type filter hook input priority 0; }'"));
    addresses_[node] = address;
  }

  std::string prefix_;
  std::vector<std::string> created_;
  std::map<std::string, std::string> addresses_;
};

// This thread's sockets live in another network namespace until destroyed.
class Entered {
 public:
  explicit Entered(const std::string& ns) : home_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
    const int target = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(target >= 0);
    REQUIRE(::setns(target, CLONE_NEWNET) == 0);
    ::close(target);
  }
  ~Entered() {
    (void)::setns(home_, CLONE_NEWNET);
    ::close(home_);
  }
  Entered(const Entered&) = delete;
  Entered& operator=(const Entered&) = delete;

 private:
  int home_;
};

}  // namespace

TEST_CASE("replication: seven nodes in network namespaces equal the oracle after real partitions and 20% loss") {
  if (auto why = unavailable()) {
    WARN("skipped: " << *why);
    return;
  }
  auto plan = tools::quickstart_on_free_ports(false);
  std::vector<std::string> names;
  for (const auto& node : plan.nodes) names.push_back(node.name);
  Namespaces spaces(names);
  for (auto& node : plan.nodes) {
    node.host = spaces.address(node.name);
    node.api_port = api_port;
    node.gossip_port = gossip_port;
  }
  Entered controller(spaces.ns("ctl"));  // the test reaches the nodes' APIs across the bridge
  Campaign c(plan, [&](const std::string& node) {
    return std::vector<std::string>{"ip", "netns", "exec", spaces.ns(node)};
  });
  c.operate(40);

  // 20 % of gossip packets dropped, both ways, at every node.
  spaces.loss(names, 20);
  c.operate_for(std::chrono::milliseconds(3'000));
  spaces.heal(names);

  // HQ with the two Steenokkerzeel centres cut off from the four others:
  // both sides keep recording; the silence check closes the dead links.
  const std::vector<std::string> west = {"HQ", "CAR", "127B"}, east = {"CIB", "CIM", "CIV", "CIH"};
  spaces.partition(west, east);
  c.operate_for(std::chrono::milliseconds(7'000));
  CHECK(c.link_state("HQ", "CIM") != "up");  // the partition is real: the link went silent and was closed
  CHECK(c.link_state("HQ", "CAR") == "up");
  spaces.heal(names);

  // Vottem alone, then stopped, restarted, and restarted from a wiped disk.
  std::vector<std::string> others;
  for (const auto& name : names)
    if (name != "CIV") others.push_back(name);
  spaces.partition({"CIV"}, others);
  c.operate_for(std::chrono::milliseconds(3'000));
  spaces.heal(names);
  c.stop("CAR", SIGTERM);
  c.operate(20);
  c.start("CAR");
  REQUIRE(c.converges(std::chrono::seconds(60)));  // CIV's records are out before its disk goes
  c.wipe("CIV");
  c.operate(30);

  const bool converged = c.converges(std::chrono::seconds(60));
  INFO(c.acknowledged_ << " operations acknowledged; " << c.last_mismatch());
  CHECK(converged);
}
