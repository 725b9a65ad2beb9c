// Which records a node merges: signed by their origin, and only for what the
// signer owns. A refused record never changes the board.
#include <catch2/catch.hpp>

#include "crdt/board.hpp"
#include "crdt/key.hpp"
#include "net/record_signing.hpp"
#include "node/record_policy.hpp"

using namespace placemesh;

namespace {

struct Network {
  std::unique_ptr<SecretKey> cim = SecretKey::generate().value();
  std::unique_ptr<SecretKey> cib = SecretKey::generate().value();
  std::unique_ptr<SecretKey> hq = SecretKey::generate().value();
  Roster roster;
  Network() {
    roster.network = "be";
    roster.version = 1;
    roster.nodes = {{"CIM", "Merksplas", NodeRole::centre, cim->public_key(), "127.0.0.1:1", {{"CIM/men", Category::men, 110}}, {}},
                    {"CIB", "Bruges", NodeRole::centre, cib->public_key(), "127.0.0.1:2", {{"CIB/men", Category::men, 80}}, {}},
                    {"HQ", "HQ", NodeRole::hq, hq->public_key(), "127.0.0.1:3", {}, {}}};
  }
  Record make(const SecretKey& signer, Key key, Value value, std::uint64_t seq = 1) const {
    Record record{Origin{signer.public_key(), 1}, seq, Hlc{1'795'000'000'000, 0}, std::move(key), std::move(value), {}};
    sign_record(record, signer);
    return record;
  }
};

}  // namespace

TEST_CASE("record_policy: owners, HQ and heartbeats are admitted") {
  REQUIRE(sodium_ready());
  Network net;
  CHECK(admissible(net.make(*net.cim, occupied_key("CIM/men"), Counter{3, 0}), net.roster).ok());
  CHECK(admissible(net.make(*net.cim, blocked_key("CIM/men", "damage"), Counter{1, 0}), net.roster).ok());
  CHECK(admissible(net.make(*net.cim, operational_key("CIM/men"), Register{100}), net.roster).ok());
  CHECK(admissible(net.make(*net.hq, used_key("CIM/men"), Counter{1, 0}), net.roster).ok());
  CHECK(admissible(net.make(*net.cib, Key{Field::heartbeat, "", ""}, Heartbeat{}), net.roster).ok());
}

TEST_CASE("record_policy: bad signatures, strangers and non-owners are refused and never reach the board") {
  REQUIRE(sodium_ready());
  Network net;
  std::vector<std::pair<Record, Code>> refused;
  Record tampered = net.make(*net.cim, occupied_key("CIM/men"), Counter{3, 0});
  tampered.value = Counter{30, 0};
  refused.emplace_back(tampered, Code::bad_signature);
  // A valid signature by a member that does not own the pool.
  refused.emplace_back(net.make(*net.cib, occupied_key("CIM/men"), Counter{50, 0}), Code::not_owner);
  refused.emplace_back(net.make(*net.hq, occupied_key("CIM/men"), Counter{50, 0}), Code::not_owner);
  refused.emplace_back(net.make(*net.cib, used_key("CIM/men"), Counter{5, 0}), Code::not_owner);
  auto stranger = SecretKey::generate();
  REQUIRE(stranger.ok());
  refused.emplace_back(net.make(*stranger.value(), occupied_key("CIM/men"), Counter{1, 0}), Code::not_owner);
  refused.emplace_back(net.make(*net.cim, occupied_key("XXX/men"), Counter{1, 0}), Code::not_owner);

  Ledger ledger;
  const Board before = derive_board(ledger, net.roster.board_spec(), 1'795'000'000'000);
  for (const auto& [record, code] : refused) {
    const auto status = admissible(record, net.roster);
    INFO(to_string(record.key));
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == code);
    if (status.ok()) (void)ledger.apply(record);  // the caller's contract: only admissible records are applied
  }
  CHECK(derive_board(ledger, net.roster.board_spec(), 1'795'000'000'000) == before);
}
