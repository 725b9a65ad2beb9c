#pragma once
// A thin RAII wrapper over LMDB that mirrors its rules (STYLE 13):
// - an Env owns the MDB_env; a Txn aborts unless committed;
// - values read are spans valid only until the transaction ends: copy what
//   must outlive it;
// - every return code is mapped: MDB_MAP_FULL, ENOSPC and EDQUOT (a full
//   map, a full disk or quota) to store_full, the rest to store_failed with LMDB's own message.
// Write transactions belong to the store's writer thread; read transactions
// may be opened on any thread (the env is opened with MDB_NOTLS).

#include <lmdb.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crdt/result.hpp"

namespace placemesh::lmdb {

using Bytes = std::span<const std::uint8_t>;

[[nodiscard]] Error to_error(int rc, std::string_view doing);

class Env {
 public:
  // read_only opens with MDB_RDONLY (offline inspection: never writes).
  // synced = false opens with MDB_NOSYNC: commits are not flushed to disk
  // (only for the simulator, whose crashes never lose the page cache).
  [[nodiscard]] static Result<std::unique_ptr<Env>> open(const std::filesystem::path& dir, std::size_t map_bytes,
                                                         unsigned max_dbs, bool read_only = false,
                                                         bool synced = true);
  ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  [[nodiscard]] MDB_env* get() const { return env_; }
  [[nodiscard]] std::size_t map_bytes() const;
  [[nodiscard]] std::size_t used_bytes() const;  // pages up to the last one used × page size
  [[nodiscard]] std::size_t page_bytes() const;
  // mdb_env_set_mapsize: only while no transaction is open in this process.
  [[nodiscard]] Status set_map_bytes(std::size_t map_bytes);

 private:
  explicit Env(MDB_env* env) : env_(env) {}
  MDB_env* env_;
};

class Txn {
 public:
  [[nodiscard]] static Result<Txn> begin(Env& env, bool read_only);
  Txn(Txn&& other) noexcept : txn_(other.txn_), read_only_(other.read_only_) { other.txn_ = nullptr; }
  Txn& operator=(Txn&&) = delete;
  Txn(const Txn&) = delete;
  ~Txn();

  // Opens (creating in a write transaction) a named database.
  [[nodiscard]] Result<MDB_dbi> open_db(const char* name);
  [[nodiscard]] Result<std::optional<Bytes>> get(MDB_dbi dbi, Bytes key);
  [[nodiscard]] Status put(MDB_dbi dbi, Bytes key, Bytes value);
  [[nodiscard]] Status del(MDB_dbi dbi, Bytes key);  // absent keys are fine
  [[nodiscard]] Status commit();
  [[nodiscard]] Result<std::size_t> entries(MDB_dbi dbi);

  // Visits every entry in key order; stops when visit returns false.
  template <typename Visit>
  [[nodiscard]] Status scan(MDB_dbi dbi, Visit visit);

  [[nodiscard]] MDB_txn* get() const { return txn_; }

 private:
  Txn(MDB_txn* txn, bool read_only) : txn_(txn), read_only_(read_only) {}
  MDB_txn* txn_;
  bool read_only_;
};

inline Bytes bytes(std::string_view text) {
  return Bytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}
inline MDB_val to_val(Bytes data) {
  return MDB_val{data.size(), const_cast<std::uint8_t*>(data.data())};
}
inline Bytes from_val(const MDB_val& val) { return Bytes(static_cast<const std::uint8_t*>(val.mv_data), val.mv_size); }

template <typename Visit>
Status Txn::scan(MDB_dbi dbi, Visit visit) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn_, dbi, &cursor); rc != 0) return to_error(rc, "opening a cursor");
  MDB_val key{}, value{};
  int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
  while (rc == 0) {
    if (!visit(from_val(key), from_val(value))) break;
    rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  if (rc != 0 && rc != MDB_NOTFOUND) return to_error(rc, "scanning");
  return Ok{};
}

}  // namespace placemesh::lmdb
