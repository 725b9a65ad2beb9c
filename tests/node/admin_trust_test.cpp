// Admin key hand-over: which rosters a node takes, from which key, and
// that a key it stopped trusting never comes back.
#include <catch2/catch.hpp>

#include "net/identity.hpp"
#include "node/admin_trust.hpp"
#include "node/roster_signature.hpp"

using namespace placemesh;

namespace {

std::string roster_text(const PublicKey& node_key, const std::string& network, int version) {
  return "network = \"" + network + "\"\nversion = " + std::to_string(version) +
         "\n\n[[node]]\nname = \"CIM\"\nrole = \"centre\"\npublic_key = \"" + to_hex(node_key) +
         "\"\naddress = \"127.0.0.1:7401\"\n[[node.pool]]\nunit = \"men\"\ncategory = \"men\"\ndesign = 110\n";
}

std::unique_ptr<SecretKey> key() {
  auto made = SecretKey::generate();
  REQUIRE(made.ok());
  return std::move(made).value();
}

}  // namespace

TEST_CASE("admin_trust: a roster signed by a new key with the trusted key's hand-over is taken, and retires it") {
  REQUIRE(sodium_ready());
  const auto old_admin = key(), new_admin = key(), thief = key(), node = key();
  const std::string text = roster_text(node->public_key(), "be", 2);
  const Handover handover = sign_handover(*old_admin, new_admin->public_key(), "be");
  const std::string handed = sign_roster(text, *new_admin, handover);
  CHECK(split_signed_roster(handed).value().handover == handover);

  AdminTrust trust(old_admin->public_key());
  CHECK(trust.check(sign_roster(text, *old_admin), "be", "r").value().signer == old_admin->public_key());
  auto checked = trust.check(handed, "be", "r");
  REQUIRE(checked.ok());
  CHECK(checked.value().signer == new_admin->public_key());
  CHECK(checked.value().replaces == old_admin->public_key());

  // Refused: no hand-over, a hand-over by a key this node does not trust,
  // one for another network, one to another key.
  auto refused = [&](const AdminTrust& by, const std::string& candidate) {
    auto result = by.check(candidate, "be", "r");
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == Code::bad_config);
    return result.error().message();
  };
  CHECK_THAT(refused(trust, sign_roster(text, *new_admin)), Catch::Contains("carries no hand-over from it"));
  CHECK_THAT(refused(trust, sign_roster(text, *new_admin, sign_handover(*thief, new_admin->public_key(), "be"))),
             Catch::Contains("carries no hand-over from it"));
  CHECK_THAT(refused(trust, sign_roster(text, *new_admin, sign_handover(*old_admin, new_admin->public_key(), "nl"))),
             Catch::Contains("not valid for network \"be\""));
  CHECK_THAT(refused(trust, sign_roster(text, *thief, handover)), Catch::Contains("not valid"));
  // The [signature] table is outside the signed bytes: hand-over lines
  // added in transit to a roster the trusted key signed are refused, not
  // ignored, so they can never name a key as replaced.
  std::string forged = sign_roster(text, *old_admin);
  forged += "handover_from = \"" + to_hex(new_admin->public_key()) + "\"\nhandover_value = \"" +
            std::string(128, 'a') + "\"\n";
  CHECK_THAT(refused(trust, forged), Catch::Contains("its hand-over from"));
  std::string tampered = handed;
  tampered.replace(tampered.find("design = 110"), 12, "design = 999");
  CHECK_THAT(refused(trust, tampered), Catch::Contains("does not match"));

  // After the hand-over the old key is retired: its rosters, and its
  // hand-overs to anyone else, are refused.
  CHECK(trust.trust(checked.value()) == old_admin->public_key());
  CHECK(trust.current() == new_admin->public_key());
  CHECK(trust.retired(old_admin->public_key()));
  CHECK(trust.check(handed, "be", "r").ok());
  CHECK(trust.check(sign_roster(text, *new_admin), "be", "r").ok());
  CHECK_THAT(refused(trust, sign_roster(text, *old_admin)), Catch::Contains("no longer trusts"));
  CHECK_THAT(refused(trust, sign_roster(text, *thief, sign_handover(*old_admin, thief->public_key(), "be"))),
             Catch::Contains("carries no hand-over from it"));
  // A node built from the store's retired list refuses the old key even
  // when something makes it trust another key again.
  AdminTrust restored(new_admin->public_key(), trust.retired_keys());
  CHECK_THAT(refused(restored, sign_roster(text, *old_admin)), Catch::Contains("no longer trusts"));
}

TEST_CASE("admin_trust: a hand-over line without its partner is a malformed signature table") {
  REQUIRE(sodium_ready());
  const auto old_admin = key(), new_admin = key(), node = key();
  std::string handed = sign_roster(roster_text(node->public_key(), "be", 2), *new_admin,
                                   sign_handover(*old_admin, new_admin->public_key(), "be"));
  handed.erase(handed.find("handover_value"));
  auto parts = split_signed_roster(handed);
  REQUIRE_FALSE(parts.ok());
  CHECK_THAT(parts.error().message(), Catch::Contains("or neither"));
}

TEST_CASE("admin_trust: a node that never trusted the old key still retires it when it takes a hand-over roster") {
  REQUIRE(sodium_ready());
  const auto old_admin = key(), new_admin = key(), node = key();
  const std::string handed = sign_roster(roster_text(node->public_key(), "be", 2), *new_admin,
                                         sign_handover(*old_admin, new_admin->public_key(), "be"));
  AdminTrust trust(new_admin->public_key());  // first started on the new key
  auto checked = trust.check(handed, "be", "r");
  REQUIRE(checked.ok());
  CHECK_FALSE(trust.trust(checked.value()).has_value());  // the trusted key did not change
  CHECK(trust.retired(old_admin->public_key()));
  CHECK_FALSE(trust.check(sign_roster(roster_text(node->public_key(), "be", 3), *old_admin), "be", "r").ok());
}
