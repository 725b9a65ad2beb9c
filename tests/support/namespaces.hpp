#pragma once
// Test hosts in network namespaces (tests/node/netns_test.cpp and the fault
// campaign, tests/faults): one namespace per node, each joined by a veth to
// a bridge that lives in a namespace of its own, so nothing outside the
// namespaces made here changes; a controller namespace on the same bridge
// for the test itself. Every namespace (and with it every veth and nft rule)
// is removed on destruction. Needs root, iproute2 and nftables.
//
// Each node namespace has an nft table `inet pm` with one input chain `in`:
// partitions and loss are rules there, and healing flushes it.
//
// Errors are exceptions (std::runtime_error naming the command): these run
// in tests and in the campaign program, never in the node.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace placemesh::test {

// Runs a shell command quietly; true when it exited 0.
inline bool sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

inline void must(const std::string& command) {
  if (!sh(command)) throw std::runtime_error("command failed: " + command);
}

// Why namespaces cannot be made here, if they cannot.
inline std::optional<std::string> namespaces_unavailable() {
  if (::geteuid() != 0) return "needs root (ip netns)";
  if (!sh("command -v nft")) return "needs nft (Debian package nftables; deploy/install-deps.sh installs it)";
  const std::string probe = "pm" + std::to_string(::getpid()) + "-probe";
  if (!sh("ip netns add " + probe)) return "ip netns add fails here (no permission for network namespaces?)";
  const bool nft_ok = sh("ip netns exec " + probe + " nft add table inet probe");
  sh("ip netns del " + probe);
  if (!nft_ok) return "nft cannot create a table inside a network namespace (no nf_tables in this kernel?)";
  return std::nullopt;
}

class Namespaces {
 public:
  // `subnet` is the first three octets with a dot ("10.77.0."): node i gets
  // .(i+1), the controller .100.
  Namespaces(const std::vector<std::string>& nodes, std::string subnet)
      : prefix_("pm" + std::to_string(::getpid()) + "-"), subnet_(std::move(subnet)) {
    try {
      must("ip netns add " + bridge());
      created_.push_back(bridge());
      must("ip netns exec " + bridge() + " ip link add br0 type bridge");
      must("ip netns exec " + bridge() + " ip link set br0 up");
      for (std::size_t i = 0; i < nodes.size(); ++i) add(nodes[i], subnet_ + std::to_string(i + 1));
      add("ctl", subnet_ + "100");
    } catch (...) {
      remove();
      throw;
    }
  }
  ~Namespaces() { remove(); }
  Namespaces(const Namespaces&) = delete;
  Namespaces& operator=(const Namespaces&) = delete;

  [[nodiscard]] std::string ns(const std::string& node) const { return prefix_ + node; }
  [[nodiscard]] const std::string& address(const std::string& node) const { return addresses_.at(node); }
  // A command prefix that runs a program inside a node's namespace.
  [[nodiscard]] std::vector<std::string> exec(const std::string& node) const {
    return {"ip", "netns", "exec", ns(node)};
  }

  // Runs one nft command inside a node's namespace.
  void nft(const std::string& node, const std::string& command) {
    must("ip netns exec " + ns(node) + " nft '" + command + "'");
  }
  // Each node drops that share of the TCP packets to and from `port` that
  // cross its veth, both ways (nft numgen: random, independent per packet).
  void loss(const std::vector<std::string>& nodes, std::uint16_t port, int percent) {
    const std::string p = std::to_string(percent), port_text = std::to_string(port);
    for (const auto& node : nodes) {
      nft(node, "add rule inet pm in iifname \"eth0\" tcp dport " + port_text + " numgen random mod 100 < " + p +
                    " drop");
      nft(node, "add rule inet pm in iifname \"eth0\" tcp sport " + port_text + " numgen random mod 100 < " + p +
                    " drop");
    }
  }
  // Nothing passes between the two sides (each drops what comes from the other).
  void partition(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    for (const auto& node : a) drop_from(node, b);
    for (const auto& node : b) drop_from(node, a);
  }
  // `node` drops every packet from `sources`; they still receive its packets.
  void drop_from(const std::string& node, const std::vector<std::string>& sources) {
    std::string set;
    for (const auto& source : sources) set += (set.empty() ? "" : ", ") + address(source);
    nft(node, "add rule inet pm in ip saddr { " + set + " } drop");
  }
  // One more address for a namespace (host number `host` of the subnet), for
  // clients that must come from several sources; removed with it.
  std::string add_address(const std::string& node, int host) {
    const std::string address = subnet_ + std::to_string(host);
    must("ip netns exec " + ns(node) + " ip addr add " + address + "/24 dev eth0");
    return address;
  }
  void heal(const std::vector<std::string>& nodes) {
    for (const auto& node : nodes) nft(node, "flush chain inet pm in");
  }

 private:
  [[nodiscard]] std::string bridge() const { return prefix_ + "br"; }
  void add(const std::string& node, const std::string& address) {
    const std::string name = ns(node), veth = prefix_ + "v" + std::to_string(created_.size());
    must("ip netns add " + name);
    created_.push_back(name);
    must("ip link add " + veth + " type veth peer name eth0 netns " + name);
    must("ip link set " + veth + " netns " + bridge());
    must("ip netns exec " + bridge() + " ip link set " + veth + " master br0 up");
    must("ip netns exec " + name + " ip addr add " + address + "/24 dev eth0");
    must("ip netns exec " + name + " ip link set eth0 up");
    must("ip netns exec " + name + " ip link set lo up");
    must("ip netns exec " + name + " nft add table inet pm");
    must("ip netns exec " + name + " nft 'add chain inet pm in { type filter hook input priority 0; }'");
    addresses_[node] = address;
  }
  void remove() {
    for (const auto& name : created_) sh("ip netns del " + name);
    created_.clear();
  }

  std::string prefix_, subnet_;
  std::vector<std::string> created_;
  std::map<std::string, std::string> addresses_;
};

// While alive, this thread's new sockets (and the threads it starts) live in
// another network namespace.
class Entered {
 public:
  explicit Entered(const std::string& ns) : home_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
    const int target = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0 || ::setns(target, CLONE_NEWNET) != 0) {
      if (target >= 0) ::close(target);
      ::close(home_);
      throw std::runtime_error("cannot enter network namespace " + ns);
    }
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

}  // namespace placemesh::test
