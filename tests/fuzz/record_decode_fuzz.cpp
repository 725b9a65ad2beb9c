// libFuzzer: record decoding (net/record_codec). Any input is either refused
// with an error or decodes to a record that encodes and decodes to itself.
#include <cstddef>
#include <cstdint>

#include "crdt/assert.hpp"
#include "net/record_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto decoded = placemesh::decode(std::span<const std::uint8_t>(data, size));
  if (!decoded) return 0;
  auto again = placemesh::decode(placemesh::encode(decoded.value()));
  PM_ASSERT(again.ok() && again.value() == decoded.value(), "a decoded record does not survive re-encoding");
  return 0;
}
