#pragma once
// The local author of records: this node's origin, its last seq and its HLC.
//
// The node restores a Writer from its store at start (last seq and HLC are
// committed with every record) and owns it on the io thread. make() hands
// out the next seq; the caller applies the record with Ledger::apply_local()
// before making the next one, so every read of "my current total" sees it.

#include <cstdint>

#include "crdt/hlc.hpp"
#include "crdt/record.hpp"

namespace placemesh {

class Writer {
 public:
  explicit Writer(Origin origin, std::uint64_t last_seq = 0, Hlc last_hlc = {})
      : origin_(origin), last_seq_(last_seq), clock_(last_hlc) {}

  [[nodiscard]] const Origin& origin() const { return origin_; }
  [[nodiscard]] std::uint64_t last_seq() const { return last_seq_; }
  [[nodiscard]] HlcClock& clock() { return clock_; }
  [[nodiscard]] const HlcClock& clock() const { return clock_; }

  // An unsigned record with the next seq and a fresh timestamp.
  [[nodiscard]] Record make(Key key, Value value, std::int64_t now_ms) {
    Record record{origin_, ++last_seq_, clock_.tick(now_ms), std::move(key), std::move(value), {}};
    PM_ASSERT(validate(record).ok(), to_string(record.key));
    return record;
  }

 private:
  Origin origin_;
  std::uint64_t last_seq_;
  HlcClock clock_;
};

}  // namespace placemesh
