// The dashboard in a real browser: starts CIM, CIB and HQ, then runs
// tests/browser/dashboard.mjs (headless Debian chromium driven by
// playwright-core, both installed by tests/run.sh). Skipped with the reason
// when node, chromium or playwright-core is missing.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;

namespace {

const std::filesystem::path browser_dir = std::filesystem::path(PLACEMESH_SOURCE_DIR) / "tests" / "browser";

std::optional<std::string> unavailable() {
  if (std::system("command -v node >/dev/null 2>&1") != 0) return "needs node (Debian package nodejs)";
  if (!std::filesystem::exists("/usr/bin/chromium")) return "needs /usr/bin/chromium (Debian package chromium)";
  if (!std::filesystem::exists(browser_dir / "node_modules" / "playwright-core"))
    return "needs playwright-core: (cd tests/browser && npm ci)";
  return std::nullopt;
}

}  // namespace

TEST_CASE("browser: the dashboard updates live, marks a stopped centre stale and records an operator's admission") {
  if (auto why = unavailable()) {
    WARN("skipped: " << *why);
    return;
  }
  TestNetwork network("browser");
  RunningNode cim(network, "CIM"), cib(network, "CIB"), hq(network, "HQ");
  // HQ has heard from both centres before the page opens.
  REQUIRE(eventually([&] {
    const auto board = hq.get("/v1/board");
    for (const auto& centre : board["centres"])
      if (centre["last_heard_ms"].is_null()) return false;
    return true;
  }));
  const auto output = network.dir() / "browser.log";
  const std::string command =
      "cd '" + browser_dir.string() + "' && HQ_URL=http://127.0.0.1:" + std::to_string(hq.info().api_port) +
      " CIM_URL=http://127.0.0.1:" + std::to_string(cim.info().api_port) + " VIEWER_TOKEN=" + network.token("viewer") +
      " CIM_TOKEN=" + network.token("cim") + " CIB_PID=" + std::to_string(cib.daemon().pid()) +
      (std::getenv("PLACEMESH_SCREENSHOT") ? std::string(" SCREENSHOT=") + std::getenv("PLACEMESH_SCREENSHOT") : "") +
      " node dashboard.mjs >'" + output.string() + "' 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream log(output);
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  INFO(text);
  CHECK(rc == 0);
}
