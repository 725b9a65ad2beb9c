#include "node/store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <future>
#include <set>

#include "crdt/limits.hpp"
#include "net/record_codec.hpp"
#include "net/record_signing.hpp"

namespace placemesh {

namespace {

constexpr const char* meta_node_key = "node_key";
constexpr const char* meta_epoch = "epoch";
constexpr const char* meta_own = "own";
constexpr const char* meta_format = "format";
constexpr const char* meta_roster = "current";
constexpr const char* meta_retired_admin_keys = "retired_admin_keys";  // 32 bytes each
constexpr std::string_view format_version = "placemesh-store-1";
constexpr unsigned max_dbs = 16;

void put_u64(Bytes& out, std::uint64_t value) {  // big-endian, so keys sort by number
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(value >> shift));
}

std::uint64_t get_u64(lmdb::Bytes in, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i) value = value << 8 | in[at + i];
  return value;
}

Bytes origin_bytes(const Origin& origin) {
  Bytes out(origin.key.begin(), origin.key.end());
  put_u64(out, origin.epoch);
  return out;
}

Origin origin_from(lmdb::Bytes in) {
  Origin origin;
  std::memcpy(origin.key.data(), in.data(), origin.key.size());
  origin.epoch = get_u64(in, origin.key.size());
  return origin;
}

constexpr std::size_t origin_size = public_key_bytes + 8;

Bytes slot_key(const Record& record) {
  Bytes out = origin_bytes(record.origin);
  const std::string key = to_string(record.key);
  out.insert(out.end(), key.begin(), key.end());
  return out;
}

Bytes seq_key(const Origin& origin, std::uint64_t seq) {
  Bytes out = origin_bytes(origin);
  put_u64(out, seq);
  return out;
}

Error corrupt(std::string_view what) {
  return make_error(Code::store_failed, "corrupt store: " + std::string(what) +
                                            "; run 'placemeshctl verify --data-dir DIR' and restore from a peer");
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options, const PublicKey& node_key,
                                           std::uint64_t new_epoch) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return make_error(Code::store_failed, "cannot create " + options.dir.string() + ": " + ec.message());
  std::filesystem::permissions(options.dir, std::filesystem::perms::owner_all, ec);

  auto env = lmdb::Env::open(options.dir, options.map_bytes, max_dbs, false, options.synced);
  if (!env) return env.error();
  auto txn = lmdb::Txn::begin(*env.value(), false);
  if (!txn) return txn.error();
  auto meta = txn.value().open_db("meta");
  if (!meta) return meta.error();

  auto stored_key = txn.value().get(meta.value(), lmdb::bytes(meta_node_key));
  if (!stored_key) return stored_key.error();
  Origin origin{node_key, new_epoch};
  if (stored_key.value()) {
    const auto key = *stored_key.value();
    if (key.size() != node_key.size()) return corrupt("meta node_key has the wrong size");
    PublicKey theirs{};
    std::memcpy(theirs.data(), key.data(), theirs.size());
    if (theirs != node_key)
      return make_error(Code::wrong_node,
                        options.dir.string() + " belongs to node key " + to_hex(theirs) +
                            " but the config's key file holds " + to_hex(node_key) +
                            "; point data_dir at this node's own directory, or move it aside to start "
                            "afresh as a new epoch");
    auto epoch = txn.value().get(meta.value(), lmdb::bytes(meta_epoch));
    if (!epoch) return epoch.error();
    if (!epoch.value() || epoch.value()->size() != 8) return corrupt("meta epoch is missing");
    origin.epoch = get_u64(*epoch.value(), 0);
  } else {
    Bytes epoch;
    put_u64(epoch, new_epoch);
    for (auto status : {txn.value().put(meta.value(), lmdb::bytes(meta_node_key), node_key),
                        txn.value().put(meta.value(), lmdb::bytes(meta_epoch), epoch),
                        txn.value().put(meta.value(), lmdb::bytes(meta_format), lmdb::bytes(format_version))})
      if (!status) return status.error();
  }
  if (auto status = txn.value().commit(); !status) return status.error();

  std::unique_ptr<Store> store(new Store(std::move(env.value()), origin));
  if (auto status = store->open_databases(false); !status) return status.error();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  if (auto status = store->index_unindexed_ops(now_ms); !status) return status.error();
  store->writing_ = true;  // until the writer's first read is over (run_writer)
  store->writer_ = std::thread([raw = store.get()] { raw->run_writer(); });
  return store;
}

Store::Store(std::unique_ptr<lmdb::Env> env, Origin origin) : env_(std::move(env)), origin_(origin) {}

Store::~Store() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

Result<std::unique_ptr<Store>> Store::open_read_only(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir / "data.mdb", ec))
    return make_error(Code::store_failed, dir.string() + " holds no store (no data.mdb)");
  auto env = lmdb::Env::open(dir, 0, max_dbs, true);  // map size 0: keep the file's size
  if (!env) return env.error();
  Origin origin;
  {
    auto txn = lmdb::Txn::begin(*env.value(), true);
    if (!txn) return txn.error();
    auto meta = txn.value().open_db("meta");
    if (!meta) return meta.error();
    auto key = txn.value().get(meta.value(), lmdb::bytes(meta_node_key));
    auto epoch = txn.value().get(meta.value(), lmdb::bytes(meta_epoch));
    if (!key) return key.error();
    if (!epoch) return epoch.error();
    if (!key.value() || key.value()->size() != origin.key.size()) return corrupt("meta node_key is missing");
    if (!epoch.value() || epoch.value()->size() != 8) return corrupt("meta epoch is missing");
    std::memcpy(origin.key.data(), key.value()->data(), origin.key.size());
    origin.epoch = get_u64(*epoch.value(), 0);
  }
  std::unique_ptr<Store> store(new Store(std::move(env.value()), origin));
  if (auto status = store->open_databases(true); !status) return status.error();
  {
    std::lock_guard lock(store->mutex_);
    store->read_only_ = true;
    store->read_only_flag_ = true;
    store->read_only_reason_ = make_error(Code::store_failed, "opened for inspection only");
  }
  return store;
}

Status Store::open_databases(bool read_only) {
  auto txn = lmdb::Txn::begin(*env_, read_only);
  if (!txn) return txn.error();
  for (auto [name, dbi] : {std::pair{"records", &records_}, std::pair{"by_seq", &by_seq_}, std::pair{"vv", &vv_},
                           std::pair{"meta", &meta_}, std::pair{"ops", &ops_}, std::pair{"audit", &audit_},
                           std::pair{"roster", &roster_}}) {
    auto opened = txn.value().open_db(name);
    if (!opened) return opened.error();
    *dbi = opened.value();
  }
  // ops_at indexes ops by age (op id retention). A store written before it
  // existed has none, which inspection (read-only) does without.
  if (auto opened = txn.value().open_db("ops_at"); opened) ops_at_ = opened.value();
  else if (!read_only) return opened.error();
  return txn.value().commit();
}

namespace {

Bytes ops_at_key(std::int64_t at_ms, std::string_view op_id) {
  Bytes key;
  put_u64(key, static_cast<std::uint64_t>(std::max<std::int64_t>(at_ms, 0)));
  key.insert(key.end(), op_id.begin(), op_id.end());
  return key;
}

}  // namespace

// A store of an older version kept its op ids without their age: they are
// given the time of this start, so they are kept at least as long as before.
Status Store::index_unindexed_ops(std::int64_t now_ms) {
  auto txn = lmdb::Txn::begin(*env_, false);
  if (!txn) return txn.error();
  auto ops = txn.value().entries(ops_);
  auto indexed = txn.value().entries(ops_at_);
  if (!ops) return ops.error();
  if (!indexed) return indexed.error();
  if (ops.value() == indexed.value()) return Ok{};
  std::vector<std::string> ids;
  auto status = txn.value().scan(ops_, [&](lmdb::Bytes key, lmdb::Bytes) {
    ids.emplace_back(reinterpret_cast<const char*>(key.data()), key.size());
    return true;
  });
  if (!status) return status;
  std::set<std::string> known;
  status = txn.value().scan(ops_at_, [&](lmdb::Bytes key, lmdb::Bytes) {
    known.emplace(reinterpret_cast<const char*>(key.data()) + 8, key.size() - 8);
    return true;
  });
  if (!status) return status;
  std::size_t added = 0;
  for (const auto& id : ids) {
    if (known.contains(id)) continue;
    if (status = txn.value().put(ops_at_, ops_at_key(now_ms, id), {}); !status) return status;
    ++added;
  }
  if (status = txn.value().commit(); !status) return status;
  if (added > 0) spdlog::info("store: {} op ids of an older store version are kept from now on for {} days", added,
                              limits::op_id_retention_ms / 86'400'000);
  return Ok{};
}

Status Store::prune_ops(lmdb::Txn& txn, std::int64_t now_ms, std::size_t& pruned) {
  auto entries = txn.entries(ops_at_);
  if (!entries) return entries.error();
  std::size_t over = entries.value() > limits::op_ids_kept_max ? entries.value() - limits::op_ids_kept_max : 0;
  const auto oldest_kept = static_cast<std::uint64_t>(std::max<std::int64_t>(now_ms - limits::op_id_retention_ms, 0));
  std::vector<std::vector<std::uint8_t>> expired;
  auto status = txn.scan(ops_at_, [&](lmdb::Bytes key, lmdb::Bytes) {
    if (expired.size() >= limits::op_ids_pruned_per_commit_max) return false;
    if (over == 0 && (key.size() < 8 || get_u64(key, 0) >= oldest_kept)) return false;
    if (over > 0) --over;
    expired.emplace_back(key.begin(), key.end());
    return true;
  });
  if (!status) return status;
  for (const auto& key : expired) {
    if (key.size() < 8) return corrupt("short ops_at key");
    const lmdb::Bytes op_id(key.data() + 8, key.size() - 8);
    if (status = txn.del(ops_, op_id); !status) return status;
    if (status = txn.del(ops_at_, key); !status) return status;
  }
  pruned = expired.size();
  return Ok{};
}

Status Store::write_one(lmdb::Txn& txn, const Batch& batch) {
  for (const auto& record : batch.records) {
    const Bytes slot = slot_key(record);
    // The slot's previous record leaves the by_seq index.
    auto previous = txn.get(records_, slot);
    if (!previous) return previous.error();
    if (previous.value()) {
      if (previous.value()->size() < 8) return corrupt("short record value");
      const std::uint64_t old_seq = get_u64(*previous.value(), 0);
      PM_ASSERT(old_seq < record.seq, "store asked to go back", old_seq, record.seq);
      if (auto status = txn.del(by_seq_, seq_key(record.origin, old_seq)); !status) return status;
    }
    Bytes value;
    put_u64(value, record.seq);
    const Bytes encoded = encode(record);
    value.insert(value.end(), encoded.begin(), encoded.end());
    if (auto status = txn.put(records_, slot, value); !status) return status;
    if (auto status = txn.put(by_seq_, seq_key(record.origin, record.seq), slot); !status) return status;
  }
  for (const auto& [origin, knowledge] : batch.knowledge) {
    Bytes value;
    put_u64(value, knowledge.through);
    for (std::uint64_t seq : knowledge.cloud) put_u64(value, seq);
    if (auto status = txn.put(vv_, origin_bytes(origin), value); !status) return status;
  }
  if (batch.own) {
    Bytes value;
    put_u64(value, batch.own->first);
    put_u64(value, static_cast<std::uint64_t>(batch.own->second.wall_ms));
    put_u64(value, batch.own->second.logical);
    if (auto status = txn.put(meta_, lmdb::bytes(meta_own), value); !status) return status;
  }
  for (const auto& [op_id, answer] : batch.ops) {
    if (auto status = txn.put(ops_, lmdb::bytes(op_id), lmdb::bytes(answer)); !status) return status;
    if (auto status = txn.put(ops_at_, ops_at_key(batch.at_ms, op_id), {}); !status) return status;
  }
  if (batch.roster)
    if (auto status = txn.put(roster_, lmdb::bytes(meta_roster), lmdb::bytes(*batch.roster)); !status) return status;
  if (batch.retired_admin_keys) {
    Bytes keys;
    for (const PublicKey& key : *batch.retired_admin_keys) keys.insert(keys.end(), key.begin(), key.end());
    if (auto status = txn.put(roster_, lmdb::bytes(meta_retired_admin_keys), keys); !status) return status;
  }
  for (const auto& line : batch.audit) {
    Bytes key;
    put_u64(key, ++audit_counter_);
    if (auto status = txn.put(audit_, key, lmdb::bytes(line)); !status) return status;
  }
  return Ok{};
}

void Store::run_writer() {
  {  // continue the audit numbering after a restart
    auto txn = lmdb::Txn::begin(*env_, true);
    if (txn) {
      (void)txn.value().scan(audit_, [&](lmdb::Bytes key, lmdb::Bytes) {
        audit_counter_ = get_u64(key, 0);
        return true;
      });
    }
  }
  {
    std::lock_guard lock(mutex_);
    writing_ = false;  // set in open(): resume() must not grow the map under that scan
  }
  for (;;) {
    std::deque<Pending> group;
    bool read_only = false;
    std::optional<Error> reason;
    {
      // Spin briefly before sleeping: waking a sleeping thread costs tens
      // of microseconds on a VM, as much as a tenth of a commit.
      const auto spin_until =
          std::chrono::steady_clock::now() + std::chrono::microseconds(limits::store_writer_spin_us);
      while (queued_.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() < spin_until) {
      }
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      queued_.store(0, std::memory_order_release);
      if (queue_.empty()) return;  // stopping, and drained
      group.swap(queue_);
      writing_ = true;
      read_only = read_only_;
      reason = read_only_reason_;
    }
    Status status = Ok{};
    if (read_only) {
      status = *reason;
    } else {
      const auto started = std::chrono::steady_clock::now();
      auto txn = lmdb::Txn::begin(*env_, false);
      if (!txn) {
        status = txn.error();
      } else {
        std::int64_t newest_ms = 0;
        std::size_t pruned = 0;
        for (const auto& pending : group) {
          if (status = write_one(txn.value(), pending.batch); !status) break;
          newest_ms = std::max(newest_ms, pending.batch.at_ms);
        }
        if (status && newest_ms > 0) status = prune_ops(txn.value(), newest_ms, pruned);
        if (status) status = txn.value().commit();  // one sync for the whole group
        if (status) ops_pruned_.fetch_add(pruned, std::memory_order_relaxed);
      }
      const auto took = std::chrono::steady_clock::now() - started;
      const auto micros =
          static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(took).count());
      std::lock_guard lock(mutex_);
      stats_.commit_micros_total += micros;
      std::size_t bucket = 0;
      while (bucket < commit_buckets_us.size() && micros > commit_buckets_us[bucket]) ++bucket;
      ++stats_.commit_buckets[bucket];
    }
    {
      std::lock_guard lock(mutex_);
      writing_ = false;  // its transaction is over; the completions below touch no LMDB
      stats_.batches += group.size();
      if (status) {
        ++stats_.commits;
      } else {
        stats_.failed += group.size();
        // Any failed commit is final until a restart (fail-stop): a later
        // batch may hold records built on the failed one's (cumulative
        // counters), so it must not commit without it.
        read_only_ = true;
        read_only_flag_ = true;
        read_only_reason_ = status.error();
        if (status.error().code != Code::store_full)
          read_only_reason_->detail += "; the node refuses writes until it is restarted";
        // store_full: resume() makes it writable again once there is room:
        // a full map only when it was grown (pages LMDB freed would let a
        // probe pass and the next commit fail again, over and over), a full
        // disk once it has room.
        map_full_ = status.error().message().find(mdb_strerror(MDB_MAP_FULL)) != std::string::npos;
      }
    }
    for (auto& pending : group) pending.done(status);
  }
}

void Store::submit(Batch batch, Done done) {
  PM_REQUIRE(writer_.joinable(), "submit to a store opened read-only");
  {
    std::lock_guard lock(mutex_);
    PM_REQUIRE(!stopping_, "submit after the store began to close");
    if (queue_.size() < limits::store_queue_max) {
      queue_.push_back(Pending{std::move(batch), std::move(done)});
      queued_.fetch_add(1, std::memory_order_release);
      wake_.notify_one();
      return;
    }
  }
  done(make_error(Code::store_failed, "the write queue is full (" + std::to_string(limits::store_queue_max) +
                                          " batches); retry with the same op_id"));
}

Status Store::write(Batch batch) {
  std::promise<Status> promise;
  auto future = promise.get_future();
  submit(std::move(batch), [&promise](Status status) { promise.set_value(std::move(status)); });
  return future.get();
}

Result<Loaded> Store::load() {
  auto txn = lmdb::Txn::begin(*env_, true);
  if (!txn) return txn.error();
  Loaded loaded;
  std::optional<Error> failure;
  auto records = txn.value().scan(records_, [&](lmdb::Bytes, lmdb::Bytes value) {
    if (value.size() < 8) {
      failure = corrupt("short record value");
      return false;
    }
    auto record = decode(value.subspan(8));
    if (!record) {
      failure = corrupt(record.error().message());
      return false;
    }
    auto applied = loaded.ledger.apply(record.value());
    if (!applied) failure = corrupt(applied.error().message());
    return applied.ok();
  });
  if (!records) return records.error();
  if (failure) return *failure;
  auto knowledge = txn.value().scan(vv_, [&](lmdb::Bytes key, lmdb::Bytes value) {
    if (key.size() != origin_size || value.size() < 8 || value.size() % 8 != 0) {
      failure = corrupt("malformed version vector entry");
      return false;
    }
    OriginKnowledge entry{get_u64(value, 0), {}};
    for (std::size_t at = 8; at < value.size(); at += 8) entry.cloud.insert(get_u64(value, at));
    loaded.ledger.restore_knowledge(origin_from(key), entry);
    return true;
  });
  if (!knowledge) return knowledge.error();
  if (failure) return *failure;
  auto own = txn.value().get(meta_, lmdb::bytes(meta_own));
  if (!own) return own.error();
  if (own.value()) {
    if (own.value()->size() != 24) return corrupt("meta own has the wrong size");
    loaded.last_seq = get_u64(*own.value(), 0);
    loaded.last_hlc = Hlc{static_cast<std::int64_t>(get_u64(*own.value(), 8)),
                          static_cast<std::uint32_t>(get_u64(*own.value(), 16))};
  }
  return loaded;
}

Result<std::optional<std::string>> Store::find_op(std::string_view op_id) {
  auto txn = lmdb::Txn::begin(*env_, true);
  if (!txn) return txn.error();
  auto found = txn.value().get(ops_, lmdb::bytes(op_id));
  if (!found) return found.error();
  if (!found.value()) return std::optional<std::string>{};
  const auto bytes = *found.value();
  return std::optional<std::string>{std::string(bytes.begin(), bytes.end())};
}

Error Store::read_only_reason() const {
  std::lock_guard lock(mutex_);
  return read_only_reason_.value_or(make_error(Code::store_failed, "the store is writable"));
}

Status Store::resume(std::size_t map_bytes) {
  PM_REQUIRE(writer_.joinable(), "resume of a store opened read-only");
  std::lock_guard lock(mutex_);  // the writer takes no new group meanwhile
  if (!queue_.empty() || writing_)
    return make_error(Code::store_failed, "a batch is still being written; resume when none is in flight");
  if (read_only_ && read_only_reason_ && read_only_reason_->code != Code::store_full) return *read_only_reason_;
  const bool grow = map_bytes > env_->map_bytes();
  if (grow) {
    const std::size_t before = env_->map_bytes();
    if (auto status = env_->set_map_bytes(map_bytes); !status) {
      // LMDB has let go of the old map: nothing may touch it again.
      read_only_ = true;
      read_only_flag_ = true;
      read_only_reason_ = status.error();
      read_only_reason_->detail += "; restart the node";
      map_full_ = false;
      return *read_only_reason_;
    }
    spdlog::info("store: the map grew from {} MiB to {} MiB", before >> 20, env_->map_bytes() >> 20);
  }
  if (!read_only_) return Ok{};
  if (map_full_ && !grow) return *read_only_reason_;  // only a bigger map helps
  // Is there room for a write now? A transaction that takes a few pages and
  // is aborted answers for the map; the file system answers for the disk.
  const std::vector<std::uint8_t> probe(limits::store_probe_bytes, 0);
  {
    auto txn = lmdb::Txn::begin(*env_, false);
    if (!txn) {  // e.g. MDB_PANIC after a failed meta page write: only a restart helps
      read_only_reason_ = txn.error();
      read_only_reason_->detail += "; restart the node";
      map_full_ = false;
      return *read_only_reason_;
    }
    if (auto status = txn.value().put(meta_, lmdb::bytes("probe"), probe); !status) return status;
  }  // aborted
  const char* path = nullptr;
  mdb_env_get_path(env_->get(), &path);
  std::error_code ec;
  const auto disk = std::filesystem::space(path == nullptr ? "." : path, ec);
  // The replica asks only at heartbeats, so a disk that fills again at
  // once costs one reload per heartbeat, not one per batch.
  const std::size_t needed = limits::store_probe_bytes;
  if (!ec && disk.available < needed)
    return make_error(Code::store_full, std::string("the disk of ") + path + " has less than the " +
                                            std::to_string(needed >> 10) + " KiB free it needs; free space on it");
  read_only_ = false;
  read_only_flag_ = false;
  read_only_reason_.reset();
  return Ok{};
}

std::size_t Store::room_bytes() const {
  std::lock_guard lock(mutex_);  // not while resume() changes the map
  const std::size_t map = env_->map_bytes(), used = env_->used_bytes();
  return map > used ? map - used : 0;
}

Result<std::optional<std::string>> Store::installed_roster() {
  auto txn = lmdb::Txn::begin(*env_, true);
  if (!txn) return txn.error();
  auto found = txn.value().get(roster_, lmdb::bytes(meta_roster));
  if (!found) return found.error();
  if (!found.value()) return std::optional<std::string>{};
  return std::optional<std::string>{std::string(found.value()->begin(), found.value()->end())};
}

Result<std::vector<PublicKey>> Store::retired_admin_keys() {
  auto txn = lmdb::Txn::begin(*env_, true);
  if (!txn) return txn.error();
  auto found = txn.value().get(roster_, lmdb::bytes(meta_retired_admin_keys));
  if (!found) return found.error();
  std::vector<PublicKey> keys;
  if (!found.value()) return keys;
  const lmdb::Bytes bytes = *found.value();
  if (bytes.size() % PublicKey{}.size() != 0) return corrupt("retired admin keys of a bad length");
  for (std::size_t at = 0; at < bytes.size(); at += PublicKey{}.size()) {
    PublicKey key;
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(at), key.size(), key.begin());
    keys.push_back(key);
  }
  return keys;
}

Result<std::vector<std::string>> Store::audit_lines() {
  auto txn = lmdb::Txn::begin(*env_, true);
  if (!txn) return txn.error();
  std::vector<std::string> lines;
  auto status = txn.value().scan(audit_, [&](lmdb::Bytes, lmdb::Bytes value) {
    lines.emplace_back(value.begin(), value.end());
    return true;
  });
  if (!status) return status.error();
  return lines;
}

StoreStats Store::stats() const {
  std::lock_guard lock(mutex_);
  StoreStats stats = stats_;
  stats.read_only = read_only_;
  stats.map_bytes = env_->map_bytes();
  stats.used_bytes = env_->used_bytes();
  return stats;
}

Result<Store::Counts> Store::counts() {
  auto txn = lmdb::Txn::begin(*env_, true);
  if (!txn) return txn.error();
  Counts counts;
  for (auto [dbi, count] : {std::pair{records_, &counts.records}, std::pair{by_seq_, &counts.by_seq},
                            std::pair{vv_, &counts.origins}, std::pair{ops_, &counts.ops},
                            std::pair{audit_, &counts.audit}}) {
    auto status = txn.value().scan(dbi, [count](lmdb::Bytes, lmdb::Bytes) {
      ++*count;
      return true;
    });
    if (!status) return status.error();
  }
  counts.ops_pruned = ops_pruned_.load(std::memory_order_relaxed);
  return counts;
}

Result<std::vector<std::string>> Store::verify() {
  std::vector<std::string> problems;
  auto loaded = load();  // decodes and re-applies every record
  if (!loaded) {
    problems.push_back(loaded.error().message());
    return problems;
  }
  auto txn = lmdb::Txn::begin(*env_, true);
  if (!txn) return txn.error();
  std::size_t indexed = 0;
  auto status = txn.value().scan(by_seq_, [&](lmdb::Bytes key, lmdb::Bytes value) {
    ++indexed;
    if (key.size() != origin_size + 8) {
      problems.push_back("by_seq: a key of " + std::to_string(key.size()) + " bytes");
      return problems.size() < 100;
    }
    const Origin origin = origin_from(key);
    const std::uint64_t seq = get_u64(key, origin_size);
    auto found = txn.value().get(records_, value);  // by_seq maps (origin, seq) to the slot key
    if (!found || !found.value() || found.value()->size() < 8 || get_u64(*found.value(), 0) != seq)
      problems.push_back("by_seq: " + short_name(origin) + " seq " + std::to_string(seq) +
                         " points at a slot that does not hold it");
    return problems.size() < 100;
  });
  if (!status) return status.error();
  const Ledger& ledger = loaded.value().ledger;
  if (indexed != ledger.record_count())
    problems.push_back("by_seq has " + std::to_string(indexed) + " entries for " +
                       std::to_string(ledger.record_count()) + " records");
  ledger.for_each_record([&](const Record& record) {
    if (record.origin == origin_ && record.seq > loaded.value().last_seq)
      problems.push_back("own record seq " + std::to_string(record.seq) + " is above the stored last seq " +
                         std::to_string(loaded.value().last_seq));
    if (!record_signature_valid(record))
      problems.push_back("record " + short_name(record.origin) + " seq " + std::to_string(record.seq) +
                         " has a signature that does not verify");
    const Digest& digest = ledger.digest();
    auto known = digest.find(record.origin);
    if (known == digest.end() || (record.seq > known->second.through && !known->second.cloud.contains(record.seq)))
      problems.push_back("record " + short_name(record.origin) + " seq " + std::to_string(record.seq) +
                         " is not in the version vector");
  });
  return problems;
}

}  // namespace placemesh
