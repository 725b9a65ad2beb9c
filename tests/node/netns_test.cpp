// The quickstart network with each node in its own network namespace (ip
// netns, a veth to a bridge that lives in a namespace of its own: nothing
// changes outside the namespaces this test creates and removes), real
// partitions (nft DROP inside the namespaces) and probabilistic loss (nft
// numgen). The test thread itself works from a controller namespace on the
// same bridge. Needs root, iproute2 and nftables; skipped with a message
// otherwise.
#include <catch2/catch.hpp>

#include "tests/support/campaign.hpp"
#include "tests/support/namespaces.hpp"

using namespace placemesh;
using namespace placemesh::test;

namespace {

constexpr std::uint16_t gossip_port = 7000;
constexpr std::uint16_t api_port = 8400;

}  // namespace

TEST_CASE("replication: seven nodes in network namespaces equal the oracle after real partitions and 20% loss") {
  if (auto why = namespaces_unavailable()) {
    WARN("skipped: " << *why);
    return;
  }
  auto plan = tools::quickstart_on_free_ports(false);
  std::vector<std::string> names;
  for (const auto& node : plan.nodes) names.push_back(node.name);
  Namespaces spaces(names, "10.77.0.");
  for (auto& node : plan.nodes) {
    node.host = spaces.address(node.name);
    node.api_port = api_port;
    node.gossip_port = gossip_port;
  }
  Entered controller(spaces.ns("ctl"));  // the test reaches the nodes' APIs across the bridge
  Campaign c(plan, [&](const std::string& node) { return spaces.exec(node); });
  c.operate(40);

  // 20 % of gossip packets dropped, both ways, at every node.
  spaces.loss(names, gossip_port, 20);
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
