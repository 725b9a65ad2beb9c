#pragma once
// Records to bytes and back, in the Cap'n Proto schema of net/placemesh.capnp.
//
// encode_body() gives the canonical bytes an origin signs; encode() the whole
// signed record as stored in LMDB and sent on the wire. decode() accepts only
// bounded, well-formed input (explicit ReaderOptions, length checked first),
// converts every Cap'n Proto exception into an error, and validates the
// result with crdt's rules; it does not check the signature (net/identity
// does, before a record reaches the ledger). Stateless; any thread.

#include <cstdint>
#include <span>
#include <vector>

#include "crdt/record.hpp"

namespace placemesh {

using Bytes = std::vector<std::uint8_t>;

[[nodiscard]] Bytes encode_body(const Record& record);
[[nodiscard]] Bytes encode(const Record& record);
[[nodiscard]] Result<Record> decode(std::span<const std::uint8_t> bytes);

}  // namespace placemesh
