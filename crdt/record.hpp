#pragma once
// One record (DESIGN §3.2): the latest value one origin wrote for one key.
//
// `seq` is strictly increasing per origin; a record supersedes every older
// record of the same (origin, key). The signature is opaque bytes here: it is
// made and checked in net/ over the canonical encoding, before a record
// reaches the ledger.

#include <cstdint>

#include "crdt/hlc.hpp"
#include "crdt/key.hpp"
#include "crdt/origin.hpp"
#include "crdt/value.hpp"

namespace placemesh {

struct Record {
  Origin origin;
  std::uint64_t seq = 0;  // ≥ 1
  Hlc hlc;
  Key key;
  Value value;
  Signature signature{};

  friend bool operator==(const Record&, const Record&) = default;
};

// Key, value kind and limits, and seq ≥ 1. Does not check the signature.
[[nodiscard]] Status validate(const Record& record);

}  // namespace placemesh
