// Signed rosters: what verifies, and every way a roster is refused.
#include <catch2/catch.hpp>

#include "net/identity.hpp"
#include "node/roster.hpp"
#include "node/roster_signature.hpp"

using namespace placemesh;

namespace {

std::string roster_text(const PublicKey& node_key, int version) {
  return "network = \"be\"\nversion = " + std::to_string(version) +
         "\n\n[[node]]\nname = \"CIM\"\nrole = \"centre\"\npublic_key = \"" + to_hex(node_key) +
         "\"\naddress = \"127.0.0.1:7401\"\n[[node.pool]]\nunit = \"men\"\ncategory = \"men\"\ndesign = 110\n";
}

}  // namespace

TEST_CASE("roster_signature: a signed roster verifies and still parses") {
  REQUIRE(sodium_ready());
  auto admin = SecretKey::generate();
  auto node = SecretKey::generate();
  REQUIRE((admin.ok() && node.ok()));
  const std::string text = roster_text(node.value()->public_key(), 3);
  const std::string signed_text = sign_roster(text, *admin.value());
  CHECK(signed_text.rfind(text, 0) == 0);  // the signed bytes are the text as written
  CHECK(verify_roster(signed_text, admin.value()->public_key(), "r").ok());
  auto parsed = parse_roster(signed_text, "r");
  REQUIRE(parsed.ok());
  CHECK(parsed.value().version == 3);
  // Signing again replaces the signature instead of stacking another.
  CHECK(sign_roster(signed_text, *admin.value()) == signed_text);
}

TEST_CASE("roster_signature: unsigned, foreign, tampered and garbled rosters are refused with the reason") {
  REQUIRE(sodium_ready());
  auto admin = SecretKey::generate();
  auto other = SecretKey::generate();
  auto node = SecretKey::generate();
  REQUIRE((admin.ok() && other.ok() && node.ok()));
  const PublicKey admin_key = admin.value()->public_key();
  const std::string text = roster_text(node.value()->public_key(), 3);
  const std::string signed_text = sign_roster(text, *admin.value());
  auto refused = [&](const std::string& candidate) {
    auto status = verify_roster(candidate, admin_key, "r");
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == Code::bad_config);
    return status.error().message();
  };
  CHECK_THAT(refused(text), Catch::Contains("not signed"));
  CHECK_THAT(refused(sign_roster(text, *other.value())), Catch::Contains("not by this node's admin key"));
  std::string raised = signed_text;
  raised.replace(raised.find("version = 3"), 11, "version = 9");
  CHECK_THAT(refused(raised), Catch::Contains("does not match"));
  std::string more_places = signed_text;
  more_places.replace(more_places.find("design = 110"), 12, "design = 111");
  CHECK_THAT(refused(more_places), Catch::Contains("does not match"));
  std::string flipped = signed_text;
  const auto value_at = flipped.find("value = \"") + 9;
  flipped[value_at] = flipped[value_at] == '0' ? '1' : '0';
  CHECK_THAT(refused(flipped), Catch::Contains("does not match"));
  CHECK_THAT(refused(text + "[signature]\nadmin_key = \"zz\"\n"), Catch::Contains("[signature]"));
  CHECK_THAT(refused(signed_text + "extra = 1\n"), Catch::Contains("unexpected line"));
}
