// libFuzzer: each handshake message as the responder receives it. The first
// byte picks a split point, so both the hello and the authentication frame
// are reached with arbitrary bytes; no input may crash or be accepted.
#include <cstddef>
#include <cstdint>

#include "crdt/assert.hpp"
#include "net/secure_channel.hpp"

using namespace placemesh;
using namespace placemesh::net;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto key = SecretKey::generate();
  static const auto peer = SecretKey::generate();
  if (size == 0) return 0;
  // A real initiator's hello as a prefix lets the fuzzer reach the second message.
  Handshake initiator(Handshake::Role::initiator, Signer::of(*peer.value()), "fuzz",
                      [](const PublicKey&) { return KeyStatus::member; }, std::nullopt);
  Handshake responder(Handshake::Role::responder, Signer::of(*key.value()), "fuzz",
                      [](const PublicKey&) { return KeyStatus::member; }, std::nullopt);
  const bool real_hello = (data[0] & 1) != 0;
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  if (real_hello) (void)responder.receive(initiator.hello());
  const std::size_t split = rest.empty() ? 0 : data[0] % (rest.size() + 1);
  auto first = responder.receive(rest.first(split));
  auto second = responder.receive(rest.subspan(split));
  // Without the initiator's signature over this transcript nothing may pass.
  PM_ASSERT(!first.done && !second.done, "a handshake completed from fuzzed bytes");
  return 0;
}
