// node/intake_path: the quotas one node key has on this node (issue 15: a
// member gone bad), on a bare ledger — no store, no sockets.
#include "node/intake_path.hpp"

#include <catch2/catch.hpp>

#include "crdt/key.hpp"
#include "crdt/limits.hpp"
#include "net/record_signing.hpp"

using namespace placemesh;

namespace {

constexpr std::int64_t now_ms = 1'795'000'000'000;

struct Fixture {
  std::unique_ptr<SecretKey> self = SecretKey::generate().value();
  std::unique_ptr<SecretKey> peer = SecretKey::generate().value();  // a member whose key was stolen
  Roster roster;
  Ledger ledger;
  Writer own{Origin{self->public_key(), 1}};
  std::unique_ptr<IntakePath> intake;

  explicit Fixture(IntakePath::Quotas quotas = {}) {
    roster.network = "test";
    roster.version = 1;
    roster.nodes = {
        {"CIM", "Merksplas", NodeRole::centre, self->public_key(), "127.0.0.1:1", {{"CIM/men", Category::men, 110}}, {}},
        {"CIB", "Bruges", NodeRole::centre, peer->public_key(), "127.0.0.1:2", {{"CIB/men", Category::men, 80}}, {}}};
    intake = std::make_unique<IntakePath>(ledger, roster, own, [this] { return clock_ms; }, quotas);
  }
  std::int64_t clock_ms = now_ms;
  // A correctly signed record of the peer's key.
  [[nodiscard]] Record record(std::uint64_t epoch, std::uint64_t seq, Key key = heartbeat_key(),
                              Value value = Heartbeat{}) const {
    Record out{Origin{peer->public_key(), epoch}, seq, Hlc{now_ms, 0}, std::move(key), std::move(value), {}};
    sign_record(out, *peer);
    return out;
  }
  [[nodiscard]] std::size_t epochs_held() const {
    std::size_t count = 0;
    for (const auto& [origin, knowledge] : ledger.digest()) if (origin.key == peer->public_key()) ++count;
    return count;
  }
};

std::size_t refused_as(const Received& received, Code code) {
  std::size_t count = 0;
  for (const auto& error : received.refused)
    if (error.code == code) ++count;
  return count;
}

}  // namespace

TEST_CASE("intake_path: one key's records of more than epochs_per_key_max epochs are refused, pushed or answered") {
  REQUIRE(sodium_ready());
  Fixture f;
  // The attack that took the quickstart network down: a heartbeat from each
  // of 1,100 epochs of one key, pushed over one link.
  std::vector<Record> flood;
  for (std::uint64_t epoch = 1; epoch <= 1'100; ++epoch) flood.push_back(f.record(epoch, 1));
  const auto taken = f.intake->records(flood);
  CHECK(taken.received.added.size() == limits::epochs_per_key_max);
  CHECK(refused_as(taken.received, Code::quota_exceeded) == 1'100 - limits::epochs_per_key_max);
  CHECK(f.epochs_held() == limits::epochs_per_key_max);
  // The epochs it holds keep being taken: the centre's own records still count.
  const auto more = f.intake->records({f.record(1, 2, occupied_key("CIB/men"), Counter{4, 0})});
  CHECK(more.received.added.size() == 1);
  CHECK(f.ledger.counter_total(occupied_key("CIB/men")).p == 4);

  SECTION("an anti-entropy answer cannot bring one more either, not even several in one answer") {
    Delta delta;
    for (std::uint64_t epoch = 2'000; epoch < 2'010; ++epoch)
      delta.origins.push_back(OriginDelta{Origin{f.peer->public_key(), epoch}, 0, 1, {f.record(epoch, 1)}, {}});
    const auto answered = f.intake->delta(delta);
    CHECK(answered.received.added.empty());
    CHECK(refused_as(answered.received, Code::quota_exceeded) == 10);
    CHECK(f.epochs_held() == limits::epochs_per_key_max);
  }
}

TEST_CASE("intake_path: an answer may bring a key's new epochs up to the limit, and no further") {
  REQUIRE(sodium_ready());
  Fixture f;
  Delta delta;
  for (std::uint64_t epoch = 1; epoch <= limits::epochs_per_key_max + 3; ++epoch)
    delta.origins.push_back(OriginDelta{Origin{f.peer->public_key(), epoch}, 0, 1, {f.record(epoch, 1)}, {}});
  const auto taken = f.intake->delta(delta);
  CHECK(taken.received.added.size() == limits::epochs_per_key_max);
  CHECK(refused_as(taken.received, Code::quota_exceeded) == 3);
  CHECK(f.epochs_held() == limits::epochs_per_key_max);
}

TEST_CASE("intake_path: records above a gap are dropped once their origin's cloud is full, and the gap still closes") {
  REQUIRE(sodium_ready());
  Fixture f;
  // Gapped seqs (2, 4, 6, …) of one key: each supersedes the one before,
  // and every seq stays known, in the cloud above the missing seq 1.
  auto gapped = [&](std::uint64_t seq) { return f.record(1, seq, occupied_key("CIB/men"), Counter{seq, 0}); };
  std::vector<Record> records;
  for (std::uint64_t i = 1; i <= limits::cloud_seqs_per_origin_max + 50; ++i) records.push_back(gapped(2 * i));
  const auto taken = f.intake->records(records);
  CHECK(taken.received.added.size() == limits::cloud_seqs_per_origin_max);
  CHECK(refused_as(taken.received, Code::quota_exceeded) == 50);
  const auto& knowledge = f.ledger.digest().at(Origin{f.peer->public_key(), 1});
  CHECK(knowledge.cloud.size() == limits::cloud_seqs_per_origin_max);
  // The record that closes the gap is taken (it grows no cloud), and one
  // the full cloud already knows is no refusal either.
  CHECK(f.intake->records({gapped(2)}).received.refused.empty());
  const auto closing = f.intake->records({f.record(1, 1, blocked_key("CIB/men", "maintenance"), Counter{1, 0})});
  CHECK(closing.received.added.size() == 1);
  CHECK(f.ledger.digest().at(Origin{f.peer->public_key(), 1}).through == 2);
}

TEST_CASE("intake_path: an answer that would leave more than the cloud quota above a gap is refused whole") {
  REQUIRE(sodium_ready());
  Fixture f;
  OriginDelta part{Origin{f.peer->public_key(), 1}, 5, 5, {}, {}};  // a base above what this node knows
  for (std::uint64_t i = 0; i <= limits::cloud_seqs_per_origin_max; ++i)
    part.records.push_back(f.record(1, 6 + i, occupied_key("CIB/men"), Counter{6 + i, 0}));
  part.through = part.records.back().seq;
  const auto taken = f.intake->delta(Delta{{part}, false});
  CHECK(taken.received.added.empty());
  CHECK(refused_as(taken.received, Code::quota_exceeded) == 1);
  CHECK(f.ledger.record_count() == 0);
  // The same records answering what this node knows (base 0) close every
  // gap: taken.
  part.base = 0;
  const auto honest = f.intake->delta(Delta{{part}, false});
  CHECK(honest.received.refused.empty());
  const auto& knowledge = f.ledger.digest().at(Origin{f.peer->public_key(), 1});
  CHECK(knowledge.through == part.through);
  CHECK(knowledge.cloud.empty());
}

TEST_CASE("intake_path: a centre is last heard at its own newest signed time, not when an old record arrived") {
  REQUIRE(sodium_ready());
  Fixture f;
  // A dead centre's heartbeat of an hour ago, relayed (or replayed) now.
  const std::int64_t hour_ago = now_ms - 3'600'000;
  auto old = [&](std::uint64_t seq, std::int64_t at) {
    Record record{Origin{f.peer->public_key(), 1}, seq, Hlc{at, 0}, heartbeat_key(), Heartbeat{}, {}};
    sign_record(record, *f.peer);
    return record;
  };
  REQUIRE(f.intake->records({old(1, hour_ago)}).received.added.size() == 1);
  CHECK(f.intake->last_heard_ms(f.peer->public_key()) == hour_ago);
  // An anti-entropy answer with a newer, still old, record: its stamp.
  const auto answered = f.intake->delta(Delta{{OriginDelta{Origin{f.peer->public_key(), 1}, 1, 2,
                                                            {old(2, hour_ago + 60'000)}, {}}},
                                              false});
  REQUIRE(answered.received.refused.empty());
  CHECK(f.intake->last_heard_ms(f.peer->public_key()) == hour_ago + 60'000);
  // An older record taken later does not move it back.
  REQUIRE(f.intake->records({f.record(2, 1)}).received.added.size() == 1);  // stamped now, epoch 2
  CHECK(f.intake->last_heard_ms(f.peer->public_key()) == now_ms);
  REQUIRE(f.intake->records({old(3, hour_ago)}).received.refused.empty());
  CHECK(f.intake->last_heard_ms(f.peer->public_key()) == now_ms);

  SECTION("a restarted node reads the same from its store") {
    const IntakePath restarted(f.ledger, f.roster, f.own, [] { return now_ms + 10'000; });
    CHECK(restarted.last_heard_ms(f.peer->public_key()) == now_ms);
  }
}

TEST_CASE("intake_path: a record stamped more than clock_skew_max_ms ahead is refused as clock_skew, pushed or answered") {
  REQUIRE(sodium_ready());
  Fixture f;
  auto stamped = [&](std::uint64_t seq, std::int64_t at) {
    Record record{Origin{f.peer->public_key(), 1}, seq, Hlc{at, 0}, occupied_key("CIB/men"), Counter{seq, 0}, {}};
    sign_record(record, *f.peer);
    return record;
  };
  // Within the bound: taken, and heard at its stamp.
  const std::int64_t ahead_ok = now_ms + limits::clock_skew_max_ms;
  REQUIRE(f.intake->records({stamped(1, ahead_ok)}).received.added.size() == 1);
  CHECK(f.intake->last_heard_ms(f.peer->public_key()) == ahead_ok);
  // A millisecond beyond it: refused, and nothing moves.
  const auto pushed = f.intake->records({stamped(2, ahead_ok + 1)});
  CHECK(pushed.received.added.empty());
  CHECK(refused_as(pushed.received, Code::clock_skew) == 1);
  CHECK(f.intake->last_heard_ms(f.peer->public_key()) == ahead_ok);
  CHECK(f.ledger.counter_total(occupied_key("CIB/men")).p == 1);
  // In an answer, it voids its origin's part.
  const auto answered =
      f.intake->delta(Delta{{OriginDelta{Origin{f.peer->public_key(), 1}, 1, 2, {stamped(2, ahead_ok + 1)}, {}}}, false});
  CHECK(answered.received.added.empty());
  CHECK(refused_as(answered.received, Code::clock_skew) == 1);
  CHECK(f.ledger.digest().at(Origin{f.peer->public_key(), 1}).through == 1);
  // Once our clock has come within the bound, the same record is taken.
  IntakePath later(f.ledger, f.roster, f.own, [] { return now_ms + 1; });
  CHECK(later.records({stamped(2, ahead_ok + 1)}).received.added.size() == 1);
}

namespace {
// A reservation of the peer in CIB/men, its id `id`.
Record hold(const Fixture& f, std::uint64_t epoch, std::uint64_t seq, int id, ReservationState state,
            std::int64_t expires_at_ms) {
  return f.record(epoch, seq, reservation_key("CIB/men", "r" + std::to_string(id)),
                  Reservation{state, 1, expires_at_ms, "case-" + std::to_string(id)});
}
std::uint64_t refusals_of(const Fixture& f, const char* quota) {
  const auto& all = f.intake->quota_refusals();
  const auto found = all.find(f.peer->public_key());
  if (found == all.end()) return 0;
  const auto count = found->second.find(quota);
  return count == found->second.end() ? 0 : count->second;
}
}  // namespace

TEST_CASE("intake_path: records of new keys past a key's key quota are refused, over all its epochs, pushed or answered") {
  REQUIRE(sodium_ready());
  Fixture f(IntakePath::Quotas{50, 1'000});
  // A stolen key writing reservations it never needed, one key each.
  std::vector<Record> flood;
  for (int i = 1; i <= 60; ++i) flood.push_back(hold(f, 1, static_cast<std::uint64_t>(i), i, ReservationState::cancelled, 0));
  const auto taken = f.intake->records(flood);
  CHECK(taken.received.added.size() == 50);
  CHECK(refused_as(taken.received, Code::quota_exceeded) == 10);
  CHECK(refusals_of(f, "keys") == 10);
  CHECK(f.ledger.record_count(Origin{f.peer->public_key(), 1}) == 50);
  // The keys it has keep being updated: the centre's figures still count.
  CHECK(f.intake->records({hold(f, 1, 61, 7, ReservationState::cancelled, 1)}).received.added.size() == 1);
  // A new epoch of the same key does not bring a fresh quota.
  const auto other_epoch = f.intake->records({f.record(2, 1)});
  CHECK(other_epoch.received.added.empty());
  CHECK(refusals_of(f, "keys") == 11);

  SECTION("an answer with a new key is refused whole, one with only known keys is taken") {
    OriginDelta part{Origin{f.peer->public_key(), 1}, 61, 63,
                     {hold(f, 1, 62, 8, ReservationState::cancelled, 2), hold(f, 1, 63, 61, ReservationState::cancelled, 0)},
                     {}};
    const auto refused = f.intake->delta(Delta{{part}, false});
    CHECK(refused.received.added.empty());
    CHECK(refusals_of(f, "keys") == 12);
    CHECK(f.ledger.find(Origin{f.peer->public_key(), 1}, reservation_key("CIB/men", "r8"))->seq == 8);
    part.records.pop_back();
    part.through = 62;
    CHECK(f.intake->delta(Delta{{part}, false}).received.added.size() == 1);
  }
}

TEST_CASE("intake_path: held reservations past a key's open-hold quota in a pool are refused until some close or expire") {
  REQUIRE(sodium_ready());
  Fixture f(IntakePath::Quotas{1'000, 5});
  const std::int64_t in_an_hour = now_ms + 3'600'000;
  std::vector<Record> holds;
  for (int i = 1; i <= 7; ++i) holds.push_back(hold(f, 1, static_cast<std::uint64_t>(i), i, ReservationState::held, in_an_hour));
  const auto taken = f.intake->records(holds);
  CHECK(taken.received.added.size() == 5);
  CHECK(refusals_of(f, "open_holds") == 2);
  // Holding one of them again (a newer record of it) opens nothing new.
  CHECK(f.intake->records({hold(f, 1, 8, 1, ReservationState::held, in_an_hour + 1)}).received.added.size() == 1);
  // A hold that has expired, or was cancelled, is not open.
  CHECK(f.intake->records({hold(f, 1, 9, 20, ReservationState::held, now_ms - 1)}).received.added.size() == 1);
  CHECK(f.intake->records({hold(f, 1, 10, 2, ReservationState::cancelled, in_an_hour)}).received.added.size() == 1);
  CHECK(f.intake->records({hold(f, 1, 11, 21, ReservationState::held, in_an_hour)}).received.added.size() == 1);
  CHECK(f.intake->records({hold(f, 1, 12, 22, ReservationState::held, in_an_hour)}).received.refused.size() == 1);
  CHECK(refusals_of(f, "open_holds") == 3);

  SECTION("an answer that would open one more is refused whole") {
    const OriginDelta part{Origin{f.peer->public_key(), 1}, 11, 12, {hold(f, 1, 12, 22, ReservationState::held, in_an_hour)}, {}};
    CHECK(f.intake->delta(Delta{{part}, false}).received.added.empty());
    CHECK(refusals_of(f, "open_holds") == 4);
  }
  SECTION("an answer that closes one hold and opens another is taken, as the same records pushed would be") {
    const OriginDelta part{Origin{f.peer->public_key(), 1}, 11, 13,
                           {hold(f, 1, 12, 3, ReservationState::cancelled, in_an_hour),
                            hold(f, 1, 13, 22, ReservationState::held, in_an_hour)},
                           {}};
    CHECK(f.intake->delta(Delta{{part}, false}).received.added.size() == 2);
    // Its count is the ledger's: still full.
    CHECK(f.intake->records({hold(f, 1, 14, 23, ReservationState::held, in_an_hour)}).received.added.empty());
  }
  SECTION("a restarted node counts the holds in its store") {
    IntakePath restarted(f.ledger, f.roster, f.own, [] { return now_ms; }, IntakePath::Quotas{1'000, 5});
    CHECK(restarted.records({hold(f, 1, 12, 22, ReservationState::held, in_an_hour)}).received.added.empty());
  }
  SECTION("once the holds have expired, new ones are taken") {
    f.clock_ms = in_an_hour + 1;
    CHECK(f.intake->records({hold(f, 1, 12, 22, ReservationState::held, in_an_hour + 3'600'000)}).received.added.size() == 1);
  }
}

TEST_CASE("intake_path: a record vouched for by print is not checked again, and any other record is") {
  // node/inbound_verifier checks signatures off the io thread and hands the
  // intake the prints of the records that held. The intake must trust the
  // print for that exact record and for nothing else.
  REQUIRE(sodium_ready());
  Fixture f;
  Record checked = f.record(1, 1, occupied_key("CIB/men"), Counter{3, 0});
  // A record whose signature does not hold, but whose print is vouched for:
  // taken without a second check (the verifier stands for it).
  Record unsigned_but_vouched = f.record(1, 2, occupied_key("CIB/men"), Counter{4, 0});
  unsigned_but_vouched.signature[0] ^= 0x01;
  // A valid signature copied onto a changed record: its print differs.
  Record copied = f.record(1, 3, occupied_key("CIB/men"), Counter{5, 0});
  const std::set<RecordPrint> vouched = {record_print(checked), record_print(unsigned_but_vouched),
                                         record_print(copied)};
  copied.value = Counter{50, 0};

  f.intake->vouch(&vouched);
  const auto taken = f.intake->records({checked, unsigned_but_vouched, copied});
  f.intake->vouch(nullptr);
  CHECK(taken.received.added.size() == 2);
  CHECK(refused_as(taken.received, Code::bad_signature) == 1);
  CHECK(f.ledger.counter_total(occupied_key("CIB/men")).p == 4);

  SECTION("once the vouching is cleared, a bad signature is caught again") {
    Record bad = f.record(1, 3, occupied_key("CIB/men"), Counter{6, 0});
    const std::set<RecordPrint> stale = {record_print(bad)};
    bad.signature[0] ^= 0x01;
    f.intake->vouch(&stale);
    f.intake->vouch(nullptr);
    CHECK(refused_as(f.intake->records({bad}).received, Code::bad_signature) == 1);
  }
}

TEST_CASE("intake_path: records of a node's retired key are taken as that node's, and only for what it owns") {
  // CIB changed its key: the old one is retired. A node that never had the
  // old key's records takes them from a peer, and they count as CIB's.
  REQUIRE(sodium_ready());
  Fixture f;
  const auto replacement = SecretKey::generate();
  REQUIRE(replacement.ok());
  f.roster.nodes[1].key = replacement.value()->public_key();
  f.roster.nodes[1].retired_keys = {f.peer->public_key()};
  const auto taken = f.intake->records({f.record(1, 1, occupied_key("CIB/men"), Counter{5, 0})});
  CHECK(taken.received.added.size() == 1);
  CHECK(f.ledger.counter_total(occupied_key("CIB/men")).p == 5);
  // Retired, the key is still held to what its node owns.
  const auto foreign = f.intake->records({f.record(1, 2, occupied_key("CIM/men"), Counter{9, 0})});
  CHECK(refused_as(foreign.received, Code::not_owner) == 1);

  SECTION("a key neither current nor retired is refused, as before") {
    f.roster.nodes[1].retired_keys.clear();
    CHECK(refused_as(f.intake->records({f.record(1, 3, occupied_key("CIB/men"), Counter{6, 0})}).received,
                     Code::not_owner) == 1);
  }
}
