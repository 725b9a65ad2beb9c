#include "node/lmdb.hpp"

#include <cerrno>

namespace placemesh::lmdb {

Error to_error(int rc, std::string_view doing) {
  std::string detail = std::string(doing) + ": " + mdb_strerror(rc);
  if (rc == MDB_MAP_FULL)
    return make_error(Code::store_full,
                      detail + "; raise store.map_size_mb in the config and reload the node (SIGHUP: systemctl reload "
                               "placemeshd)");
  if (rc == ENOSPC || rc == EDQUOT)
    return make_error(Code::store_full, detail + "; free space on the disk: the node writes again by itself");
  return make_error(Code::store_failed, detail);
}

Result<std::unique_ptr<Env>> Env::open(const std::filesystem::path& dir, std::size_t map_bytes, unsigned max_dbs,
                                       bool read_only, bool synced) {
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0) return to_error(rc, "creating the LMDB environment");
  std::unique_ptr<Env> env(new Env(raw));
  if (int rc = mdb_env_set_maxdbs(raw, max_dbs); rc != 0) return to_error(rc, "setting max databases");
  if (int rc = mdb_env_set_mapsize(raw, map_bytes); rc != 0) return to_error(rc, "setting the map size");
  if (int rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS | (read_only ? MDB_RDONLY : 0u) | (synced ? 0u : MDB_NOSYNC), 0600); rc != 0)
    return to_error(rc, "opening " + dir.string());
  return env;
}

Env::~Env() { mdb_env_close(env_); }

std::size_t Env::map_bytes() const {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

std::size_t Env::used_bytes() const {
  MDB_envinfo info{};
  MDB_stat stat{};
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &stat);
  return (info.me_last_pgno + 1) * stat.ms_psize;
}

Status Env::set_map_bytes(std::size_t map_bytes) {
  if (int rc = mdb_env_set_mapsize(env_, map_bytes); rc != 0) return to_error(rc, "growing the map");
  return Ok{};
}

std::size_t Env::page_bytes() const {
  MDB_stat stat{};
  mdb_env_stat(env_, &stat);
  return stat.ms_psize;
}

Result<Txn> Txn::begin(Env& env, bool read_only) {
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(env.get(), nullptr, read_only ? MDB_RDONLY : 0u, &txn); rc != 0)
    return to_error(rc, "beginning a transaction");
  return Txn(txn, read_only);
}

Txn::~Txn() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

Result<MDB_dbi> Txn::open_db(const char* name) {
  MDB_dbi dbi = 0;
  const unsigned flags = read_only_ ? 0u : unsigned{MDB_CREATE};
  if (int rc = mdb_dbi_open(txn_, name, flags, &dbi); rc != 0) return to_error(rc, std::string("opening database ") + name);
  return dbi;
}

Result<std::size_t> Txn::entries(MDB_dbi dbi) {
  MDB_stat stat{};
  if (int rc = mdb_stat(txn_, dbi, &stat); rc != 0) return to_error(rc, "counting entries");
  return static_cast<std::size_t>(stat.ms_entries);
}

Result<std::optional<Bytes>> Txn::get(MDB_dbi dbi, Bytes key) {
  MDB_val k = to_val(key), v{};
  const int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<Bytes>{};
  if (rc != 0) return to_error(rc, "reading");
  return std::optional<Bytes>{from_val(v)};
}

Status Txn::put(MDB_dbi dbi, Bytes key, Bytes value) {
  MDB_val k = to_val(key), v = to_val(value);
  if (int rc = mdb_put(txn_, dbi, &k, &v, 0); rc != 0) return to_error(rc, "writing");
  return Ok{};
}

Status Txn::del(MDB_dbi dbi, Bytes key) {
  MDB_val k = to_val(key);
  const int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return to_error(rc, "deleting");
  return Ok{};
}

Status Txn::commit() {
  const int rc = mdb_txn_commit(txn_);
  txn_ = nullptr;  // committed or aborted by LMDB either way
  if (rc != 0) return to_error(rc, "committing");
  return Ok{};
}

}  // namespace placemesh::lmdb
