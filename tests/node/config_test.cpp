// Config, roster and tokens files: what is accepted, and that every bad
// field is named in one message with the form expected.
#include <catch2/catch.hpp>

#include "node/config.hpp"
#include "node/roster.hpp"
#include "node/roster_text.hpp"
#include "node/tokens.hpp"

using namespace placemesh;

namespace {

const std::string key_a = std::string(64, 'a');
const std::string key_b = std::string(64, 'b');

std::string good_config() {
  return "node = \"CIM\"\nkey_file = \"keys/CIM.key\"\nroster_file = \"/etc/placemesh/roster.toml\"\n"
         "admin_public_key = \"" + key_a + "\"\ndata_dir = \"data\"\ngossip_listen = \"127.0.0.1:7401\"\n"
         "tokens_file = \"tokens.toml\"\n";
}

std::string message(const Error& error) { return error.message(); }

}  // namespace

TEST_CASE("config: a good file is read with defaults and paths taken from its folder") {
  auto config = parse_config(good_config(), "/srv/pm/cim.toml");
  REQUIRE(config.ok());
  CHECK(config.value().node == "CIM");
  CHECK(config.value().key_file == "/srv/pm/keys/CIM.key");
  CHECK(config.value().roster_file == "/etc/placemesh/roster.toml");
  CHECK(config.value().api_listen.to_string() == "127.0.0.1:8400");
  CHECK(config.value().gossip_listen.port == 7401);
  CHECK(config.value().log_level == "info");
  CHECK(config.value().map_bytes == std::size_t{1} << 30);
  auto sized = parse_config(good_config() + "[store]\nmap_size_mb = 64\n", "/srv/pm/cim.toml");
  REQUIRE(sized.ok());
  CHECK(sized.value().map_bytes == std::size_t{64} << 20);
}

TEST_CASE("config: every bad field is named in one error with the form expected") {
  const std::string text =
      "node = 7\nkey_file = \"\"\nadmin_public_key = \"zz\"\ndata_dir = \"d\"\ngossip_listen = \"nowhere\"\n"
      "api_listen = \"127.0.0.1:99999\"\ntokens_file = \"t\"\nlog_level = \"chatty\"\nlisten = \"x\"\n"
      "[store]\nmap_size_mb = 0\n";
  auto config = parse_config(text, "bad.toml");
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().code == Code::bad_config);
  const auto text_of_error = message(config.error());
  for (const char* field : {"node: not a string", "key_file: empty", "roster_file: missing", "admin_public_key:",
                            "gossip_listen: \"nowhere\"", "api_listen: \"127.0.0.1:99999\"", "log_level: \"chatty\"",
                            "listen: unknown field", "store.map_size_mb: expected an integer in 1..1048576"})
    CHECK_THAT(text_of_error, Catch::Contains(field));
  CHECK_THAT(text_of_error, Catch::Contains("9 problems"));
}

TEST_CASE("config: a TOML syntax error gives the line and column") {
  auto config = parse_config("node = \"CIM\nkey_file = 1\n", "broken.toml");
  REQUIRE_FALSE(config.ok());
  CHECK_THAT(message(config.error()), Catch::Contains("broken.toml:1:"));
}

TEST_CASE("config: endpoints are IP literals with a port") {
  CHECK(parse_endpoint("127.0.0.1:80").has_value());
  CHECK(parse_endpoint("[::1]:8080").value().to_string() == "[::1]:8080");
  for (const char* bad : {"localhost:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "1.2.3.4:-1", ":80", "[::1]80"})
    CHECK_FALSE(parse_endpoint(bad).has_value());
}

TEST_CASE("roster: nodes, pools and the board spec are read") {
  const std::string text = "network = \"be\"\nversion = 3\n"
                           "[[node]]\nname = \"CIB\"\ntitle = \"Bruges\"\nrole = \"centre\"\npublic_key = \"" + key_a +
                           "\"\naddress = \"127.0.0.1:7402\"\n"
                           "[[node.pool]]\nunit = \"men\"\ncategory = \"men\"\ndesign = 80\n"
                           "[[node.pool]]\nunit = \"women\"\ncategory = \"women\"\ndesign = 32\n"
                           "[[node]]\nname = \"HQ\"\nrole = \"hq\"\npublic_key = \"" + key_b +
                           "\"\naddress = \"127.0.0.1:7400\"\n"
                           "[signature]\nadmin_key = \"x\"\n";
  auto roster = parse_roster(text, "roster.toml");
  REQUIRE(roster.ok());
  CHECK(roster.value().version == 3);
  REQUIRE(roster.value().nodes.size() == 2);
  CHECK(roster.value().find_pool("CIB/women").value().second->design == 32);
  CHECK(roster.value().find_pool("CIB/women").value().first->name == "CIB");
  CHECK_FALSE(roster.value().find_pool("HQ/men").has_value());
  const auto spec = roster.value().board_spec();
  REQUIRE(spec.centres.size() == 1);  // HQ has no pools and is no centre
  CHECK(spec.centres[0].name == "Bruges");
}

TEST_CASE("roster: a node's retired keys are its own records' keys, not a member's that may link") {
  const std::string key_c(64, 'c');
  const std::string text = "network = \"be\"\nversion = 3\n"
                           "[[node]]\nname = \"CIB\"\nrole = \"centre\"\npublic_key = \"" + key_a +
                           "\"\naddress = \"127.0.0.1:7402\"\nretired_keys = [\"" + key_c + "\"]\n"
                           "[[node.pool]]\nunit = \"men\"\ncategory = \"men\"\ndesign = 80\n"
                           "[[node]]\nname = \"HQ\"\nrole = \"hq\"\npublic_key = \"" + key_b +
                           "\"\naddress = \"127.0.0.1:7400\"\n";
  auto roster = parse_roster(text, "roster.toml");
  REQUIRE(roster.ok());
  const Roster& r = roster.value();
  const PublicKey retired = public_key_from_hex(key_c).value();
  CHECK(r.find_node(retired) == nullptr);  // it may not link, and writes nothing as CIB
  REQUIRE(r.owner_of(retired) != nullptr);
  CHECK(r.owner_of(retired)->name == "CIB");
  CHECK(r.is_retired(retired));
  CHECK_FALSE(r.is_retired(public_key_from_hex(key_a).value()));
  CHECK(r.board_spec().centres[0].keys.size() == 2);  // the board's as-of counts its records too
  // Written back (the simulator signs what it builds) and read again, unchanged.
  auto again = parse_roster(format_roster(r), "formatted");
  REQUIRE(again.ok());
  CHECK(again.value().nodes[0].retired_keys == r.nodes[0].retired_keys);

  SECTION("a retired key that is another node's key, listed twice, revoked, or not a key is named") {
    std::string bad = text;
    bad.replace(bad.find(key_c), 64, key_b);
    CHECK_THAT(message(parse_roster(bad, "r.toml").error()), Catch::Contains("the same key is listed twice"));
    bad = text;
    bad.replace(bad.find("version = 3\n"), 12, "version = 3\nrevoked = [\"" + key_c + "\"]\n");
    CHECK_THAT(message(parse_roster(bad, "r.toml").error()),
               Catch::Contains("revoked[0]: a revoked key is still listed as CIB's retired key"));
    bad = text;
    bad.replace(bad.find("[\"" + key_c), 2 + 64, "[\"" + key_c + "\", \"" + key_c);
    CHECK_THAT(message(parse_roster(bad, "r.toml").error()),
               Catch::Contains("node[0].retired_keys[1]: the same key is listed twice"));
    bad = text;
    bad.replace(bad.find(key_c), 64, "zz");
    CHECK_THAT(message(parse_roster(bad, "r.toml").error()),
               Catch::Contains("node[0].retired_keys[0]: expected 64 hex digits"));
  }
}

TEST_CASE("roster: every bad node and pool is named") {
  const std::string text = "network = \"be\"\nversion = 0\n"
                           "[[node]]\nname = \"cim\"\nrole = \"centre\"\npublic_key = \"" + key_a +
                           "\"\naddress = \"a\"\n"
                           "[[node.pool]]\nunit = \"men\"\ncategory = \"adults\"\ndesign = -1\n"
                           "[[node.pool]]\nunit = \"men\"\ncategory = \"men\"\ndesign = 1\n"
                           "[[node]]\nname = \"HQ\"\nrole = \"boss\"\npublic_key = \"" + key_a + "\"\n";
  auto roster = parse_roster(text, "r.toml");
  REQUIRE_FALSE(roster.ok());
  const auto text_of_error = message(roster.error());
  for (const char* part : {"version: expected an integer in 1..", "node[0].name: \"cim\"",
                           "node[0].pool[0].category: \"adults\"", "node[0].pool[0].design",
                           "node[0].pool[1].unit: \"men\" appears twice", "node[1].role: \"boss\"",
                           "node[1].public_key: the same key is listed twice", "node[1].address: missing"})
    CHECK_THAT(text_of_error, Catch::Contains(part));
}

TEST_CASE("tokens: stored hashed, found by the token, bad entries named") {
  const std::string token = new_token();
  CHECK(token.rfind("pm_", 0) == 0);
  CHECK(token.size() > 40);
  CHECK(hash_token(token) != hash_token(new_token()));
  const std::string text = "[[token]]\nname = \"desk\"\nrole = \"operator\"\ncentre = \"CIM\"\nhash = \"" +
                           hash_token(token) + "\"\n";
  auto tokens = Tokens::parse(text, "tokens.toml");
  REQUIRE(tokens.ok());
  REQUIRE(tokens.value().find(token) != nullptr);
  CHECK(tokens.value().find(token)->centre == "CIM");
  CHECK(tokens.value().find(hash_token(token)) == nullptr);  // the hash is not a token
  CHECK(tokens.value().find("") == nullptr);

  auto bad = Tokens::parse("[[token]]\nname = \"x\"\nrole = \"operator\"\nhash = \"" + token + "\"\n", "t.toml");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(message(bad.error()), Catch::Contains("token[0].centre"));
  CHECK_THAT(message(bad.error()), Catch::Contains("token[0].hash: expected 64 lower-case hex digits"));
}

TEST_CASE("config: the example files in deploy/examples are valid") {
  const std::filesystem::path examples = std::filesystem::path(PLACEMESH_SOURCE_DIR) / "deploy" / "examples";
  auto config = load_config(examples / "node.toml");
  INFO((config.ok() ? "" : config.error().message()));
  CHECK(config.ok());
  auto roster = load_roster(examples / "roster.toml");
  INFO((roster.ok() ? "" : roster.error().message()));
  REQUIRE(roster.ok());
  CHECK(roster.value().nodes.size() == 8);
  CHECK(roster.value().board_spec().centres.size() == 7);
  auto tokens = Tokens::load(examples / "tokens.toml");
  CHECK(tokens.ok());
}
