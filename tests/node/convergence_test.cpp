// The quickstart network (HQ and six centres) as real placemeshd processes on
// loopback, every node behind a fault proxy: random operations at every
// centre while links are delayed, held back (until the silence check closes
// them), duplicated (a replayed frame the secure channel must refuse), cut
// for one node and then for all, while two centres are stopped (one by
// SIGKILL) and restarted and one restarts from a wiped data directory. At
// the end every node's board must equal the oracle of acknowledged
// operations exactly, within a deadline.
#include <catch2/catch.hpp>

#include "tests/support/campaign.hpp"
#include "tools/lab/fault_proxy.hpp"

using namespace placemesh;
using namespace placemesh::test;


TEST_CASE("replication: seven real nodes equal the oracle after stops, a kill, a wiped disk and faulty links") {
  const auto plan = tools::quickstart_on_free_ports(true);
  std::map<std::string, std::unique_ptr<tools::FaultProxy>> proxies;
  for (const auto& node : plan.nodes)
    proxies[node.name] = std::make_unique<tools::FaultProxy>(node.advertised_port, node.gossip_port);
  Campaign c(plan);
  c.operate(60);

  // Every link delayed by 30 ms.
  for (auto& [name, proxy] : proxies) proxy->set_delay(std::chrono::milliseconds(30));
  c.operate_for(std::chrono::milliseconds(1'500));
  for (auto& [name, proxy] : proxies) proxy->set_delay(std::chrono::milliseconds(0));

  // CIM's inbound links hold everything back long enough for the silence
  // check to close them; CIH's are cut and refused.
  proxies.at("CIM")->hold(true);
  proxies.at("CIH")->cut();
  c.operate_for(std::chrono::milliseconds(6'500));
  proxies.at("CIM")->hold(false);
  proxies.at("CIH")->restore();

  // A chunk replayed into the encrypted streams: refused, links reset.
  for (auto& [name, proxy] : proxies) proxy->duplicate_next();
  c.operate_for(std::chrono::milliseconds(1'500));
  CHECK(eventually([&] { return c.rejections("garbled_frame") >= 1; }));

  // CAR stops cleanly and CIB is killed; the others go on.
  c.stop("CAR", SIGTERM);
  c.stop("CIB", SIGKILL);
  c.operate(40);
  c.start("CAR");
  c.start("CIB");
  c.operate(20);

  // CIV loses its disk once HQ holds what it recorded: it restarts as a new
  // epoch and gets its old records back from its peers.
  REQUIRE(eventually([&] { return c.mismatch("HQ").find("CIV/") == std::string::npos; }));
  c.wipe("CIV");
  c.operate(30);

  // Every link cut: each node alone, each centre still recording.
  for (auto& [name, proxy] : proxies) proxy->cut();
  c.operate_for(std::chrono::milliseconds(2'000));
  for (auto& [name, proxy] : proxies) proxy->restore();
  c.operate(20);

  const bool converged = c.converges(std::chrono::seconds(60));
  INFO(c.acknowledged_ << " operations acknowledged; " << c.last_mismatch());
  CHECK(converged);
  CHECK(c.acknowledged_ >= 200);
}
