#pragma once
// Encoding of LinkMessage (net/placemesh.capnp): what travels inside a sealed
// frame. decode_link_message() reads with explicit ReaderOptions, decodes
// each record with the record codec's own limits and validation (not its
// signature: node/record_policy does that before merging), and turns every
// Cap'n Proto exception into `malformed` (STYLE 6, 10).

#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "crdt/ledger.hpp"
#include "crdt/result.hpp"
#include "net/record_codec.hpp"

namespace placemesh {

struct RosterVersion {
  std::uint64_t version = 0;
};
struct RosterText {
  std::string text;  // a signed roster
};
// Eager push and relay: records in seq order per origin.
struct RecordsMessage {
  std::vector<Record> records;
};
struct DigestMessage {
  Digest digest;
};
struct DeltaMessage {
  Delta delta;
};
using LinkMessage = std::variant<RosterVersion, RosterText, RecordsMessage, DigestMessage, DeltaMessage>;

[[nodiscard]] Bytes encode_link_message(const LinkMessage& message);
[[nodiscard]] Result<LinkMessage> decode_link_message(std::span<const std::uint8_t> bytes);

}  // namespace placemesh
