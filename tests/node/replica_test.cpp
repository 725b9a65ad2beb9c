// The replica in-process, with the store's completions held back: what it
// lets leave the node, and what it refuses to take from peers.
#include <catch2/catch.hpp>
#include <deque>

#include "crdt/key.hpp"
#include "net/record_signing.hpp"
#include "node/replica.hpp"
#include "node/roster_signature.hpp"
#include "node/roster_text.hpp"
#include "tests/support/test_network.hpp"

using namespace placemesh;

namespace {

// What the replica tells its owner: its own durable records.
struct Events final : ReplicaEvents {
  void changed() override {}
  void committed(const std::vector<Record>& records) override {
    pushed.insert(pushed.end(), records.begin(), records.end());
  }
  std::vector<Record> pushed;
};

struct Fixture {
  Events events;
  std::filesystem::path dir = test::make_temp_dir("replica");
  std::unique_ptr<SecretKey> key = SecretKey::generate().value();
  std::unique_ptr<SecretKey> other = SecretKey::generate().value();
  std::deque<std::function<void()>> posted;  // completions, run when the test says
  std::unique_ptr<Replica> replica;
  std::int64_t now_ms = 1'795'000'000'000;  // the replica's clock

  explicit Fixture(std::size_t map_bytes = std::size_t{64} << 20) {
    Roster roster;
    roster.network = "test";
    roster.version = 1;
    roster.nodes = {{"CIM", "Merksplas", NodeRole::centre, key->public_key(), "127.0.0.1:1", {{"CIM/men", Category::men, 110}}, {}},
                    {"CIB", "Bruges", NodeRole::centre, other->public_key(), "127.0.0.1:2", {{"CIB/men", Category::men, 80}}, {}}};
    // Unsynced (as in the simulator): these tests crash nothing, and some write a thousand batches.
    auto store = Store::open(StoreOptions{dir, map_bytes, false}, key->public_key(), 1);
    REQUIRE(store.ok());
    auto loaded = store.value()->load();
    REQUIRE(loaded.ok());
    replica = std::make_unique<Replica>(roster, "", *key, std::move(store).value(), std::move(loaded).value(),
                                        [this] { return now_ms; },
                                        [this](std::function<void()> work) { posted_mutex.lock(); posted.push_back(std::move(work)); posted_mutex.unlock(); },
                                        events);
  }
  ~Fixture() {
    replica.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir.parent_path(), ec);
  }
  // Waits for the store's completions (they arrive from the writer thread) and runs them.
  void run_completions(std::size_t expected) {
    REQUIRE(test::eventually([&] {
      std::lock_guard lock(posted_mutex);
      return posted.size() >= expected;
    }));
    std::deque<std::function<void()>> ready;
    {
      std::lock_guard lock(posted_mutex);
      ready.swap(posted);
    }
    for (auto& work : ready) work();
  }
  std::mutex posted_mutex;
};

// One admission at CIM, run to its answer: the error code, or ok.
std::optional<Code> admit(Fixture& f, int serial) {
  std::optional<Code> result;
  bool answered = false;
  f.replica->execute(OperationRequest{OperationKind::admit, "CIM/men", 1, 0, "", "op-" + std::to_string(serial), "desk"},
                     [&](OperationOutcome outcome) {
                       answered = true;
                       if (outcome.error) result = outcome.error->code;
                     });
  if (!answered) f.run_completions(1);
  REQUIRE(answered);
  return result;
}

// A record of CIB's about its own pool, newer each time.
Record cib_record(Fixture& f, std::uint64_t seq) {
  Record record{Origin{f.other->public_key(), 1}, seq, Hlc{f.now_ms, 0}, occupied_key("CIB/men"),
                Counter{seq, 0}, {}};
  sign_record(record, *f.other);
  return record;
}

std::size_t own_records(const Delta& delta, const Origin& origin) {
  std::size_t count = 0;
  for (const auto& part : delta.origins)
    if (part.origin == origin) count += part.records.size();
  return count;
}

}  // namespace

TEST_CASE("replica: its own records leave the node only once they are durable") {
  REQUIRE(sodium_ready());
  Fixture f;
  const Origin origin = f.replica->status().origin;
  bool answered = false;
  f.replica->execute(OperationRequest{OperationKind::admit, "CIM/men", 2, 0, "", "op-1", "test"},
                     [&](OperationOutcome outcome) { answered = !outcome.error; });
  // Applied to the ledger, not yet acknowledged: anti-entropy must not serve it.
  CHECK_FALSE(answered);
  CHECK(own_records(f.replica->delta_for({}), origin) == 0);
  f.run_completions(1);
  CHECK(answered);
  const Delta after = f.replica->delta_for({});
  CHECK(own_records(after, origin) == 1);
}

TEST_CASE("replica: records of its own origin, of strangers and of non-owners are not taken from peers") {
  REQUIRE(sodium_ready());
  Fixture f;
  const Origin origin = f.replica->status().origin;
  Record echo{origin, 5, Hlc{1'795'000'000'000, 0}, occupied_key("CIM/men"), Counter{9, 0}, {}};
  sign_record(echo, *f.key);
  Record forged{Origin{f.other->public_key(), 1}, 1, Hlc{1'795'000'000'000, 0}, occupied_key("CIM/men"),
                Counter{50, 0}, {}};
  sign_record(forged, *f.other);
  Record fine{Origin{f.other->public_key(), 1}, 2, Hlc{1'795'000'000'000, 0}, occupied_key("CIB/men"),
              Counter{3, 0}, {}};
  sign_record(fine, *f.other);
  const auto received = f.replica->receive_records({echo, forged, fine});
  CHECK(received.refused.size() == 2);
  REQUIRE(received.added.size() == 1);
  CHECK(received.added[0] == fine);
  const Board board = f.replica->board();
  CHECK(board.centres[0].pools[0].occupied == 0);  // neither the echo nor the forgery counted
  CHECK(board.centres[1].pools[0].occupied == 3);
  f.run_completions(1);
}

TEST_CASE("replica: a token's refused operations are all counted, only a few a minute audited one by one") {
  REQUIRE(sodium_ready());
  Fixture f;
  auto refuse = [&](int i) {
    // Releasing from an empty pool: refused after every check (nothing_to_remove).
    f.replica->execute(OperationRequest{OperationKind::release, "CIM/men", 1, 0, "removed", "op-" + std::to_string(i), "loop"},
                       [](OperationOutcome outcome) { CHECK(outcome.error); });
  };
  for (int i = 0; i < 25; ++i) refuse(i);
  f.run_completions(limits::audit_refusals_per_minute);
  CHECK(f.replica->status().refusals == 25);
  CHECK(f.replica->status().refusals_unaudited == 25 - limits::audit_refusals_per_minute);
  // A minute on, the next refusal writes how many went unwritten, then itself.
  f.now_ms += 60'000;
  refuse(99);
  f.run_completions(1);
  f.replica.reset();
  auto store = Store::open_read_only(f.dir);
  REQUIRE(store.ok());
  const auto lines = store.value()->audit_lines().value();
  REQUIRE(lines.size() == limits::audit_refusals_per_minute + 2);
  const auto summary = nlohmann::json::parse(lines[limits::audit_refusals_per_minute]);
  CHECK(summary["refused_not_written"] == 25 - limits::audit_refusals_per_minute);
  CHECK(summary["actor"] == "loop");
  CHECK(nlohmann::json::parse(lines.back())["op_id"] == "op-99");
}

TEST_CASE("replica: near a full map peers' records are refused, local admissions go on, and a grown map writes "
          "again without a restart") {
  REQUIRE(sodium_ready());
  Fixture f(std::size_t{1} << 20);  // 1 MiB: about a thousand admissions (op ids and audit lines)
  const std::size_t margin = f.replica->status().margin_bytes;
  CHECK(margin == (std::size_t{1} << 20) / limits::store_local_margin_divisor);
  std::uint64_t seq = 0;
  REQUIRE_FALSE(f.replica->receive_records({cib_record(f, ++seq)}).added.empty());
  f.run_completions(1);
  // Fill until the store is short of room: CIB's records are then refused and counted.
  int serial = 0;
  while (f.replica->status().room_bytes >= margin) {
    REQUIRE_FALSE(admit(f, ++serial).has_value());
    REQUIRE(serial < 5'000);
  }
  const auto refused = f.replica->receive_records({cib_record(f, ++seq)});
  CHECK(refused.added.empty());
  CHECK(f.replica->status().refused_for_room == 1);
  CHECK(f.replica->status().writable);
  CHECK(f.replica->status().state.find("short of room") == 0);
  // The centre's own admissions still go in, into the margin.
  const int at_margin = serial;
  while (!admit(f, ++serial).has_value()) REQUIRE(serial < 10'000);
  CHECK(serial - at_margin > 20);  // the margin held a good many admissions
  // The failed commit was answered, and the replica reloaded what is durable.
  CHECK_FALSE(f.replica->status().writable);
  CHECK(admit(f, ++serial) == Code::store_full);
  const std::int64_t acknowledged = f.replica->board().centres[0].pools[0].occupied;
  CHECK(acknowledged == serial - 2);  // every admission but the two refused
  // No room yet: a heartbeat's try changes nothing.
  f.replica->heartbeat();
  CHECK_FALSE(f.replica->status().writable);
  // The operator grows the map (placemeshd's reload): the same replica writes again.
  f.replica->grow_store(std::size_t{4} << 20);
  const auto status = f.replica->status();
  CHECK(status.writable);
  CHECK(status.state == "ok");
  CHECK(status.store.map_bytes == std::size_t{4} << 20);
  CHECK_FALSE(admit(f, ++serial).has_value());
  CHECK_FALSE(f.replica->receive_records({cib_record(f, ++seq)}).added.empty());
  f.run_completions(1);
  CHECK(f.replica->board().centres[0].pools[0].occupied == acknowledged + 1);
  CHECK(f.replica->board().centres[1].pools[0].occupied == static_cast<std::int64_t>(seq));
}

TEST_CASE("replica: a burst of large messages from a peer is refused before it runs past the margin, not after") {
  REQUIRE(sodium_ready());
  // What a stolen key sends (campaign step 22): frames of valid new keys,
  // one after another, faster than the writer thread commits them. The room
  // is asked again only after a commit, so without counting the batches
  // still waiting, every frame saw the same room and the map filled.
  Fixture f(std::size_t{2} << 20);
  const std::size_t margin = f.replica->status().margin_bytes;
  std::uint64_t seq = 0;
  std::size_t batches = 0, taken = 0;
  for (int frame = 0; frame < 12; ++frame) {
    std::vector<Record> records;
    for (std::size_t i = 0; i < limits::records_per_frame_max; ++i) {
      std::string reference = "flood-" + std::to_string(seq) + "-";
      reference.resize(limits::reservation_reference_bytes_max, 'x');
      Record record{Origin{f.other->public_key(), 1}, ++seq, Hlc{f.now_ms, 0}, reservation_key("CIB/men", reference),
                    Reservation{ReservationState::cancelled, 1, f.now_ms, reference}, {}};
      sign_record(record, *f.other);
      records.push_back(std::move(record));
    }
    const auto received = f.replica->receive_records(records);
    if (!received.added.empty()) ++batches;
    taken += received.added.size();
  }
  f.run_completions(batches);
  const auto status = f.replica->status();
  INFO("took " << taken << " of " << seq << " records; " << status.room_bytes << " bytes left, margin " << margin);
  CHECK(taken > 0);
  CHECK(status.writable);  // the old code: MDB_MAP_FULL, read-only
  CHECK(status.refused_for_room == seq - taken);
  CHECK(status.state.find("short of room") == 0);
  CHECK(status.room_bytes >= margin);
  // The margin is the centre's: its desk records admissions into it.
  for (int serial = 1; serial <= 50; ++serial) REQUIRE_FALSE(admit(f, serial).has_value());
  CHECK(f.replica->board().centres[0].pools[0].occupied == 50);
}

TEST_CASE("replica: once a roster no longer owns a key, its origins are neither offered nor sent") {
  // Issue 15: origins that no peer may accept are never sent. Before, a node
  // kept offering a removed node's origins in every digest and answer: each
  // peer refused them (not_owner), and a peer that had none was shown
  // "behind" on them for ever.
  REQUIRE(sodium_ready());
  Fixture f;
  const Origin cib{f.other->public_key(), 1};
  Record record{cib, 1, Hlc{1'795'000'000'000, 0}, occupied_key("CIB/men"), Counter{3, 0}, {}};
  sign_record(record, *f.other);
  REQUIRE(f.replica->receive_records({record}).added.size() == 1);
  f.run_completions(1);
  REQUIRE(admit(f, 1) == std::nullopt);  // an origin of its own to offer
  CHECK(f.replica->digest().contains(cib));
  CHECK(f.replica->delta_for({}).record_count() >= 1);

  // Version 2 removes CIB (signed by the admin key the node trusts).
  auto admin = SecretKey::generate();
  REQUIRE(admin.ok());
  AdminTrust trust(admin.value()->public_key());
  Roster v2 = f.replica->roster();
  v2.version = 2;
  v2.nodes.pop_back();
  v2.revoked = {f.other->public_key()};
  auto installed = f.replica->install_roster(sign_roster(format_roster(v2), *admin.value()), trust);
  REQUIRE(installed.ok());
  REQUIRE(installed.value());
  CHECK_FALSE(f.replica->digest().contains(cib));
  CHECK(f.replica->status().unowned_origins == 1);
  // Asked by a peer that knows nothing: CIB's record is not in the answer.
  const Delta answer = f.replica->delta_for({});
  for (const auto& part : answer.origins) CHECK(part.origin != cib);
  // The node still holds it (what a revoked key keeps is for the roster to
  // say, issue 15), and its own origin is offered as before.
  CHECK(f.replica->ledger().digest().contains(cib));
  CHECK(f.replica->digest().contains(f.replica->status().origin));
}
