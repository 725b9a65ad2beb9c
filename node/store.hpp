#pragma once
// The node's durable state in LMDB (DESIGN §5; layout in node/STORE.md).
//
// One writer thread commits batches: it takes every batch queued since its
// last commit, writes them in one transaction, syncs once (group commit),
// then calls each batch's completion — on the writer thread, so callers post
// back to their own thread. A batch is acknowledged only after its commit is
// durable. Op ids and their receipts are kept for limits::op_id_retention_ms
// and at most limits::op_ids_kept_max (DESIGN §3.5). When a commit fails the
// store turns read-only: every later write completes with the same error,
// reads keep working. A store that failed for want of room (store_full) is
// made writable again by resume(): a full map once it was grown, a full disk
// once it has room again; any other failure lasts until a restart.
//
// Lifetime: the Store owns the Env and the writer thread; destroying it
// drains the queue, then joins the thread.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "crdt/ledger.hpp"
#include "node/lmdb.hpp"

namespace placemesh {

struct StoreOptions {
  std::filesystem::path dir;
  std::size_t map_bytes = std::size_t{1} << 30;  // 1 GiB; LMDB only uses what it needs
  // false only in the simulator (tests/sim): commits are not synced, since a
  // simulated crash never loses what the kernel holds.
  bool synced = true;
};

// What one operation makes durable, all or nothing.
struct Batch {
  std::int64_t at_ms = 0;  // when it was made (the node's clock): the age of its op ids
  std::vector<Record> records;  // the latest record of each slot they touch
  std::vector<std::pair<Origin, OriginKnowledge>> knowledge;
  std::optional<std::pair<std::uint64_t, Hlc>> own;       // our last seq and HLC
  std::vector<std::pair<std::string, std::string>> ops;  // op id → its first answer, kept a bounded time
  std::vector<std::string> audit;                         // local operator actions
  std::optional<std::string> roster;                      // a newly accepted signed roster
  std::optional<std::vector<PublicKey>> retired_admin_keys;  // all admin keys no longer trusted, when that changed
};

struct Loaded {
  std::uint64_t last_seq = 0;
  Hlc last_hlc;
  Ledger ledger;
};

// Upper bounds of the commit-time histogram, in microseconds (then +Inf).
inline constexpr std::array<std::uint64_t, 12> commit_buckets_us = {100,    250,    500,    1'000,   2'500,   5'000,
                                                                    10'000, 25'000, 50'000, 100'000, 250'000, 1'000'000};

struct StoreStats {
  std::uint64_t batches = 0;
  std::uint64_t commits = 0;
  std::uint64_t failed = 0;
  std::uint64_t commit_micros_total = 0;  // time spent writing and syncing
  // Commits per histogram bucket (the last one: above every bound).
  std::array<std::uint64_t, commit_buckets_us.size() + 1> commit_buckets{};
  std::size_t map_bytes = 0;
  std::size_t used_bytes = 0;
  bool read_only = false;
};

class Store {
 public:
  using Done = std::function<void(Status)>;

  // Opens or creates the data directory. A new directory records `node_key`
  // and `new_epoch` (drawn by the caller from its RNG); an existing one must
  // belong to `node_key` (wrong_node otherwise).
  [[nodiscard]] static Result<std::unique_ptr<Store>> open(const StoreOptions& options, const PublicKey& node_key,
                                                           std::uint64_t new_epoch);
  // Opens an existing data directory for reading only (placemeshctl inspect
  // and verify): no writer thread; submit() is a caller bug.
  [[nodiscard]] static Result<std::unique_ptr<Store>> open_read_only(const std::filesystem::path& dir);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  [[nodiscard]] const Origin& origin() const { return origin_; }

  // Reads everything back (a read transaction; any thread).
  [[nodiscard]] Result<Loaded> load();
  [[nodiscard]] Result<std::optional<std::string>> find_op(std::string_view op_id);
  [[nodiscard]] Result<std::vector<std::string>> audit_lines();
  // The signed roster this node accepted last, if any.
  [[nodiscard]] Result<std::optional<std::string>> installed_roster();
  // The admin keys this node trusted once and no longer does (node/admin_trust.hpp).
  [[nodiscard]] Result<std::vector<PublicKey>> retired_admin_keys();

  // Queues a batch; `done` runs on the writer thread once it is durable or
  // has failed. Any thread.
  void submit(Batch batch, Done done);
  // submit() and wait: for tools and tests.
  [[nodiscard]] Status write(Batch batch);

  [[nodiscard]] StoreStats stats() const;
  // Cheap: no lock, no LMDB call. Any thread.
  [[nodiscard]] bool read_only() const { return read_only_flag_.load(std::memory_order_relaxed); }
  // Why writes are refused (store_full naming the fix, or the failure).
  [[nodiscard]] Error read_only_reason() const;
  // Grows the map to `map_bytes` if that is larger than it is, then, if the
  // store is read-only for want of room, makes it writable again when a write
  // of limits::store_probe_bytes fits in the map (a transaction that is
  // aborted) and on the disk; a store whose map was full, only once the
  // map has grown. Ok when the store is writable afterwards;
  // store_full if there is still no room; store_failed for a store that
  // failed otherwise (a restart is needed) or when a batch is still queued.
  // Only with no batch in flight and no transaction open in this process
  // (LMDB's rule for a new map size): the replica calls it on the io thread
  // when nothing is in flight.
  [[nodiscard]] Status resume(std::size_t map_bytes);
  // Bytes the map can still take without growing: the pages past the last
  // one ever used. Pages LMDB freed are not counted: a commit cannot reuse
  // those a recent transaction freed, so counting them promised room a
  // commit did not find (tests/node/replica_test). Cheap, any thread.
  [[nodiscard]] std::size_t room_bytes() const;

  struct Counts {
    std::size_t records = 0, by_seq = 0, origins = 0, ops = 0, audit = 0;
    std::uint64_t ops_pruned = 0;  // since this store was opened
  };
  [[nodiscard]] Result<Counts> counts();
  // Checks what load() cannot: that records and by_seq index each other and
  // that the own seq covers every own record. Returns the problems found.
  [[nodiscard]] Result<std::vector<std::string>> verify();

 private:
  struct Pending {
    Batch batch;
    Done done;
  };
  Store(std::unique_ptr<lmdb::Env> env, Origin origin);
  [[nodiscard]] Status open_databases(bool read_only);
  void run_writer();
  [[nodiscard]] Status write_one(lmdb::Txn& txn, const Batch& batch);
  // Removes the oldest op ids past limits::op_id_retention_ms before
  // `now_ms` or past limits::op_ids_kept_max, a few per commit.
  [[nodiscard]] Status prune_ops(lmdb::Txn& txn, std::int64_t now_ms, std::size_t& pruned);
  [[nodiscard]] Status index_unindexed_ops(std::int64_t now_ms);

  std::unique_ptr<lmdb::Env> env_;
  Origin origin_;
  MDB_dbi records_ = 0, by_seq_ = 0, vv_ = 0, meta_ = 0, ops_ = 0, ops_at_ = 0, audit_ = 0, roster_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool writing_ = false;
  bool map_full_ = false;  // read-only because the map (not the disk) was full  // the writer holds a group it has not completed yet
  bool read_only_ = false;
  std::optional<Error> read_only_reason_;
  StoreStats stats_;
  std::uint64_t audit_counter_ = 0;
  std::atomic<std::uint64_t> ops_pruned_{0};
  std::atomic<std::size_t> queued_{0};   // lets the writer spin without the mutex
  std::atomic<bool> read_only_flag_{false};
  std::thread writer_;
};

}  // namespace placemesh
