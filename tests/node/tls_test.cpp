// HTTPS on the node's API (issue 14): a node configured with a certificate
// and key answers placemeshctl over TLS when it trusts that certificate
// (--cacert), refuses a client that does not, and gives plain HTTP on its
// port no answer. A certificate that cannot be used is a config error that
// names the field. The certificate is self-signed, made by the openssl
// command for 127.0.0.1 in the test's own folder.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "tests/support/run_command.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;
using namespace placemesh::test;

namespace {


// A self-signed certificate for 127.0.0.1 and its key (mode 0600) in `dir`.
void make_certificate(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const Ran made = run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                       "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '" +
                       (dir / "api.key").string() + "' -out '" + (dir / "api.crt").string() + "'");
  INFO(made.output);
  REQUIRE(made.code == 0);
  ::chmod((dir / "api.key").c_str(), 0600);
}

}  // namespace

TEST_CASE("tls: placemeshctl --cacert reaches a node over HTTPS, and untrusted or plain HTTP clients do not") {
  TestNetwork network("tls");
  const auto& cim = network.node("CIM");
  const auto tls = network.dir() / "tls";
  make_certificate(tls);
  network.set_api("CIM", "tls_certificate", "\"tls/api.crt\"");
  network.set_api("CIM", "tls_key", "\"tls/api.key\"");
  tools::Daemon daemon(cim.config, network.dir() / "CIM.log");
  const std::string url = "https://127.0.0.1:" + std::to_string(cim.api_port);
  const std::string cacert = " --cacert '" + (tls / "api.crt").string() + "'";
  const std::string ctl = std::string(PLACEMESHCTL_PATH) + " --api " + url;
  const std::string trusted = ctl + cacert + " --token " + network.token("viewer");
  REQUIRE(eventually([&] { return run_command(trusted + " status").code == 0; }));

  const Ran status = run_command(trusted + " --json status");
  INFO(status.output);
  CHECK(status.code == 0);
  CHECK(nlohmann::json::parse(status.output)["node"] == "CIM");
  // A change over HTTPS, acknowledged and then on the board.
  CHECK(run_command(ctl + cacert + " --token " + network.token(tools::operator_token_name("CIM")) + " admit CIM/men -n 2").code ==
        0);
  CHECK_THAT(run_command(trusted + " --json board").output, Catch::Contains("\"occupied\":2"));

  // Without the certificate the client refuses the node: unreachable (3),
  // saying why.
  const Ran untrusted = run_command(ctl + " --token " + network.token("viewer") + " status");
  CHECK(untrusted.code == 3);
  CHECK_THAT(untrusted.output, Catch::Contains("certificate"));
  // Plain HTTP on the TLS port gets no HTTP answer.
  tools::HttpClient plain(cim.url(), std::chrono::seconds(5));
  const auto answer = plain.request("GET", "/healthz");
  CHECK_FALSE(answer.response.has_value());
  // And a node is still there to ask afterwards.
  CHECK(run_command(trusted + " status").code == 0);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(node_deadline) == std::optional<int>(0));
}

TEST_CASE("tls: a certificate or key that cannot be used, or only one of the two, is refused at start with the field") {
  TestNetwork network("tls-bad");
  const auto& cim = network.node("CIM");
  const auto tls = network.dir() / "tls";
  make_certificate(tls);
  const std::string original = tools::read_file(cim.config);
  struct Case {
    std::string api, field;
  };
  for (const Case& bad : {Case{"tls_certificate = \"tls/missing.crt\"\ntls_key = \"tls/api.key\"\n", "api.tls_certificate"},
                          Case{"tls_certificate = \"tls/api.crt\"\ntls_key = \"tls/api.crt\"\n", "api.tls_key"},
                          Case{"tls_certificate = \"tls/api.crt\"\n", "api.tls_key"}}) {
    {
      std::ofstream out(cim.config, std::ios::trunc);
      out << original << bad.api;  // the lab's configs end with their [api] table
    }
    const auto ran = tools::run_placemeshd(cim.config, node_deadline);
    INFO(ran.output);
    CHECK(ran.exit_code != 0);
    CHECK_THAT(ran.output, Catch::Contains(bad.field));
    // --check says the same, without starting.
    const Ran checked = run_command(std::string(PLACEMESHD_PATH) + " --config '" + cim.config.string() + "' --check");
    CHECK(checked.code == ran.exit_code);
    CHECK_THAT(checked.output, Catch::Contains(bad.field));
  }
}
