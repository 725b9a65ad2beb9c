#include "node/store.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "../crdt/world.hpp"
#include "crdt/limits.hpp"

using namespace placemesh;
using namespace placemesh::test;

namespace {

// A fresh data directory under the system temp folder, removed afterwards.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("placemesh-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

PublicKey node_key(std::uint8_t seed) {
  PublicKey key{};
  key.fill(seed);
  return key;
}

std::unique_ptr<Store> open_store(const TempDir& dir, std::uint8_t seed = 1, std::uint64_t epoch = 77,
                                  std::size_t map_bytes = std::size_t{64} << 20) {
  auto store = Store::open(StoreOptions{dir.path, map_bytes}, node_key(seed), epoch);
  REQUIRE(store.ok());
  return std::move(store.value());
}

// Makes `count` admissions at our origin and the batch that persists them.
Batch admissions(Writer& writer, Ledger& ledger, const std::string& pool, int count, std::int64_t now) {
  Batch batch;
  for (int i = 0; i < count; ++i) {
    auto records = admit(writer, ledger, pool, 1, now + i);
    REQUIRE(records.ok());
    for (const auto& record : records.value()) {
      REQUIRE(ledger.apply_local(record).ok());
      batch.records.push_back(record);
    }
  }
  batch.knowledge.emplace_back(writer.origin(), ledger.knowledge().origins().at(writer.origin()));
  batch.own = {writer.last_seq(), writer.clock().last()};
  return batch;
}

}  // namespace

TEST_CASE("store: a new data directory gets an epoch that survives reopening") {
  TempDir dir;
  {
    auto store = open_store(dir, 1, 77);
    CHECK(store->origin() == Origin{node_key(1), 77});
  }
  auto store = open_store(dir, 1, 99);  // a fresh epoch is offered, the stored one wins
  CHECK(store->origin().epoch == 77);
  CHECK((std::filesystem::status(dir.path).permissions() & std::filesystem::perms::others_all) ==
        std::filesystem::perms::none);
}

TEST_CASE("store: a data directory of another node key is refused, naming both keys") {
  TempDir dir;
  { auto store = open_store(dir, 1); }
  auto other = Store::open(StoreOptions{dir.path, std::size_t{64} << 20}, node_key(2), 5);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == Code::wrong_node);
  CHECK_THAT(other.error().message(), Catch::Contains(to_hex(node_key(1))) && Catch::Contains(to_hex(node_key(2))));
}

TEST_CASE("store: records, knowledge, seq and HLC come back after reopening") {
  TempDir dir;
  Ledger ledger;
  Origin origin;
  std::uint64_t last_seq = 0;
  Hlc last_hlc;
  {
    auto store = open_store(dir);
    origin = store->origin();
    Writer writer(origin);
    REQUIRE(store->write(admissions(writer, ledger, "CIM/men", 5, start_ms)).ok());
    REQUIRE(store->write(admissions(writer, ledger, "CIH/women", 3, start_ms + 10)).ok());
    // A record relayed from another origin, with a gap below it.
    Record relayed{make_origin(7), 4, Hlc{start_ms, 0}, occupied_key("CAR/border"), Counter{2, 0}, {}};
    REQUIRE(ledger.apply(relayed).ok());
    Batch batch;
    batch.records.push_back(relayed);
    batch.knowledge.emplace_back(relayed.origin, ledger.knowledge().origins().at(relayed.origin));
    batch.ops.emplace_back("op-1", R"({"ok":true})");
    batch.audit.push_back("operator-cim admit CIM/men 1 ok");
    REQUIRE(store->write(batch).ok());
    last_seq = writer.last_seq();
    last_hlc = writer.clock().last();
  }
  auto store = open_store(dir);
  auto loaded = store->load();
  REQUIRE(loaded.ok());
  loaded.value().ledger.check_invariants();
  CHECK(loaded.value().ledger == ledger);
  CHECK(loaded.value().last_seq == last_seq);
  CHECK(loaded.value().last_hlc == last_hlc);
  CHECK(loaded.value().ledger.counter_total(occupied_key("CIM/men")) == Counter{5, 0});
  CHECK(loaded.value().ledger.record_count() == 3);  // one per slot: compacted on disk too
  CHECK(store->find_op("op-1").value() == std::optional<std::string>(R"({"ok":true})"));
  CHECK_FALSE(store->find_op("op-2").value().has_value());
  CHECK(store->audit_lines().value() == std::vector<std::string>{"operator-cim admit CIM/men 1 ok"});
}

TEST_CASE("store: a full map makes the store read-only with an error naming the fix, and reads keep working") {
  TempDir dir;
  auto store = open_store(dir, 1, 77, std::size_t{256} << 10);  // 256 KiB
  Writer writer(store->origin());
  Ledger ledger;
  Status status = Ok{};
  int written = 0;
  for (int i = 0; i < 10'000 && status.ok(); ++i) {
    // Each batch touches a new pool, so the state keeps growing.
    status = store->write(admissions(writer, ledger, "C" + std::to_string(i) + "/men", 1, start_ms + i));
    if (status) ++written;
  }
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == Code::store_full);
  CHECK_THAT(status.error().message(), Catch::Contains("map_size_mb"));
  CHECK(store->stats().read_only);
  // Later writes, however small, get the same clear error.
  Ledger scratch;
  Writer other(make_origin(9));
  const auto again = store->write(admissions(other, scratch, "CIM/men", 1, start_ms));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Code::store_full);
  auto loaded = store->load();
  REQUIRE(loaded.ok());
  CHECK(loaded.value().ledger.record_count() == static_cast<std::size_t>(written));
}

TEST_CASE("store: a full store stays read-only until a write fits, then writes again without reopening") {
  TempDir dir;
  auto store = open_store(dir, 1, 77, std::size_t{256} << 10);
  Writer writer(store->origin());
  Ledger ledger;
  Status status = Ok{};
  for (int i = 0; i < 10'000 && status.ok(); ++i)
    status = store->write(admissions(writer, ledger, "C" + std::to_string(i) + "/men", 1, start_ms + i));
  REQUIRE(store->read_only());
  CHECK(store->room_bytes() < limits::store_probe_bytes);
  // No room: resume says so and changes nothing.
  const auto still = store->resume(0);
  REQUIRE_FALSE(still.ok());
  CHECK(still.error().code == Code::store_full);
  CHECK(store->read_only());
  // A bigger map: writable again, in the same process.
  REQUIRE(store->resume(std::size_t{1} << 20).ok());
  CHECK_FALSE(store->read_only());
  CHECK(store->stats().map_bytes == std::size_t{1} << 20);
  CHECK(store->room_bytes() >= (std::size_t{1} << 20) - (std::size_t{256} << 10));
  auto loaded = store->load();  // what a replica does after a failed commit: start again from the disk
  REQUIRE(loaded.ok());
  Writer again(store->origin(), loaded.value().last_seq, loaded.value().last_hlc);
  Ledger reloaded = loaded.value().ledger;
  const std::size_t before = reloaded.record_count();
  REQUIRE(store->write(admissions(again, reloaded, "CIM/men", 1, start_ms + 20'000)).ok());
  CHECK(store->load().value().ledger.record_count() == before + 1);
  // A store that is writable and has room: resume is a no-op that says ok.
  CHECK(store->resume(0).ok());
}

// A tmpfs of `bytes` mounted on a fresh directory (root only), unmounted
// when it goes.
struct SmallDisk {
  TempDir dir;
  bool mounted = false;
  explicit SmallDisk(std::size_t bytes) {
    std::filesystem::create_directories(dir.path);
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
    mounted = ::mount("tmpfs", dir.path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted) ::umount2(dir.path.c_str(), MNT_DETACH);
  }
};

TEST_CASE("store: a full disk makes the store read-only with store_full, and once space is freed it writes again") {
  if (::geteuid() != 0) {
    WARN("skipped: mounting a small tmpfs needs root");
    return;
  }
  SmallDisk disk(std::size_t{1} << 20);
  if (!disk.mounted) {
    WARN("skipped: mounting a tmpfs was refused (no CAP_SYS_ADMIN)");
    return;
  }
  const auto ballast = disk.dir.path / "ballast";
  {
    std::ofstream out(ballast, std::ios::binary);
    const std::string block(std::size_t{256} << 10, 'x');
    out << block;
  }
  // A map far larger than the disk: the disk fills first.
  auto opened = Store::open(StoreOptions{disk.dir.path / "store", std::size_t{64} << 20}, node_key(1), 77);
  REQUIRE(opened.ok());
  auto& store = opened.value();
  Writer writer(store->origin());
  Ledger ledger;
  Status status = Ok{};
  for (int i = 0; i < 10'000 && status.ok(); ++i)
    status = store->write(admissions(writer, ledger, "C" + std::to_string(i) + "/men", 1, start_ms + i));
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == Code::store_full);
  CHECK_THAT(status.error().message(), Catch::Contains("free space"));
  CHECK(store->read_only());
  CHECK(store->resume(0).error().code == Code::store_full);  // still no room
  std::filesystem::remove(ballast);
  REQUIRE(store->resume(0).ok());
  CHECK_FALSE(store->read_only());
  auto loaded = store->load();
  REQUIRE(loaded.ok());
  Writer again(store->origin(), loaded.value().last_seq, loaded.value().last_hlc);
  Ledger reloaded = loaded.value().ledger;
  CHECK(store->write(admissions(again, reloaded, "CIM/men", 1, start_ms + 20'000)).ok());
}

TEST_CASE("store: readers see whole batches while the writer commits") {
  TempDir dir;
  auto store = open_store(dir);
  Writer writer(store->origin());
  Ledger ledger;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::atomic<bool> torn{false};
  std::thread reader([&] {
    std::uint64_t previous = 0;
    while (!done) {
      auto loaded = store->load();
      if (!loaded) continue;
      // Each batch adds 10 to each of two pools: a reader must never see one without the other.
      const auto a = loaded.value().ledger.counter_total(occupied_key("CIM/men")).p;
      const auto b = loaded.value().ledger.counter_total(occupied_key("CIV/men")).p;
      if (a != b || a % 10 != 0 || a < previous) torn = true;
      previous = a;
      ++reads;
    }
  });
  for (int i = 0; i < 100; ++i) {
    Batch batch = admissions(writer, ledger, "CIM/men", 10, start_ms + i * 100);
    Batch second = admissions(writer, ledger, "CIV/men", 10, start_ms + i * 100 + 50);
    batch.records.insert(batch.records.end(), second.records.begin(), second.records.end());
    batch.knowledge = second.knowledge;
    batch.own = second.own;
    REQUIRE(store->write(batch).ok());
  }
  done = true;
  reader.join();
  CHECK_FALSE(torn);
  CHECK(reads > 0);
}

TEST_CASE("store: concurrent submissions are all acknowledged after one durable commit each group") {
  TempDir dir;
  auto store = open_store(dir);
  constexpr int threads = 4, per_thread = 100;
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&, t] {
      // Each client writes as its own origin so the batches are independent.
      Writer writer(make_origin(static_cast<std::size_t>(10 + t)));
      Ledger ledger;
      for (int i = 0; i < per_thread; ++i)
        if (store->write(admissions(writer, ledger, "CIM/men", 1, start_ms + i))) ++acknowledged;
    });
  }
  for (auto& client : clients) client.join();
  CHECK(acknowledged == threads * per_thread);
  const StoreStats stats = store->stats();
  CHECK(stats.batches == threads * per_thread);
  CHECK(stats.commits <= stats.batches);
  auto loaded = store->load();
  REQUIRE(loaded.ok());
  CHECK(loaded.value().ledger.counter_total(occupied_key("CIM/men")).p == threads * per_thread);
}

TEST_CASE("store: op ids are kept for the retention time, then pruned a few per commit") {
  TempDir dir;
  auto store = open_store(dir);
  const std::int64_t day = 86'400'000;
  const std::int64_t start = 1'900'000'000'000;
  Batch old_ops;
  old_ops.at_ms = start;
  for (int i = 0; i < 100; ++i) old_ops.ops.emplace_back("old-" + std::to_string(i), "{\"ok\":true}");
  REQUIRE(store->write(std::move(old_ops)).ok());
  Batch young;
  young.at_ms = start + 6 * day;
  young.ops.emplace_back("young", "{\"ok\":true}");
  REQUIRE(store->write(std::move(young)).ok());
  // Six days on, nothing is old enough.
  CHECK(store->counts().value().ops == 101);
  CHECK(store->find_op("old-0").value().has_value());
  // A commit past the retention of the first ones removes them, at most
  // op_ids_pruned_per_commit_max at a time; the young one stays.
  Batch later;
  later.at_ms = start + limits::op_id_retention_ms + 1;
  REQUIRE(store->write(std::move(later)).ok());
  CHECK(store->counts().value().ops == 101 - limits::op_ids_pruned_per_commit_max);
  Batch again;
  again.at_ms = start + limits::op_id_retention_ms + 2;
  REQUIRE(store->write(std::move(again)).ok());
  CHECK(store->counts().value().ops == 1);
  CHECK(store->counts().value().ops_pruned == 100);
  CHECK_FALSE(store->find_op("old-0").value().has_value());
  CHECK(store->find_op("young").value().has_value());
  // The age index survives a restart: the young one still goes on time.
  store.reset();
  store = open_store(dir);
  Batch week_on;
  week_on.at_ms = start + 6 * day + limits::op_id_retention_ms + 1;
  REQUIRE(store->write(std::move(week_on)).ok());
  CHECK(store->counts().value().ops == 0);
}
