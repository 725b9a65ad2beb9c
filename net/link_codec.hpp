#pragma once
// Encoding of LinkMessage (net/placemesh.capnp): what travels inside a sealed
// frame. decode_link_message() reads with explicit ReaderOptions and turns
// every Cap'n Proto exception into `malformed` (STYLE 6, 10).

#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "crdt/result.hpp"
#include "net/record_codec.hpp"

namespace placemesh {

struct RosterVersion {
  std::uint64_t version = 0;
};
struct RosterText {
  std::string text;  // a signed roster
};
using LinkMessage = std::variant<RosterVersion, RosterText>;

[[nodiscard]] Bytes encode_link_message(const LinkMessage& message);
[[nodiscard]] Result<LinkMessage> decode_link_message(std::span<const std::uint8_t> bytes);

}  // namespace placemesh
