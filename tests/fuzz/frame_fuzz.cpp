// libFuzzer: frames as an established link receives them. Arbitrary bytes
// must be refused (garbled, oversize) or wait for more, never crash, never
// yield a message (they carry no valid authentication tag).
#include <cstddef>
#include <cstdint>

#include "crdt/assert.hpp"
#include "net/secure_channel.hpp"

using namespace placemesh;
using namespace placemesh::net;

namespace {

std::unique_ptr<Channel> connected_receiver() {
  static const auto a = SecretKey::generate();
  static const auto b = SecretKey::generate();
  auto members = [](const PublicKey&) { return KeyStatus::member; };
  Handshake initiator(Handshake::Role::initiator, Signer::of(*a.value()), "fuzz", members, std::nullopt);
  Handshake responder(Handshake::Role::responder, Signer::of(*b.value()), "fuzz", members, std::nullopt);
  (void)responder.receive(initiator.hello());  // the responder answers only the initiator's proof
  auto at_initiator = initiator.receive(responder.hello());
  auto at_responder = responder.receive(at_initiator.to_send);
  PM_ASSERT(at_responder.done);
  PM_ASSERT(initiator.receive(at_responder.to_send).done);
  return responder.take_channel();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto channel = connected_receiver();
  auto opened = channel->open(std::span<const std::uint8_t>(data, size));
  PM_ASSERT(opened.messages.empty(), "a fuzzed frame opened");
  return 0;
}
