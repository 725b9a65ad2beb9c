#include "net/link_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "crdt/limits.hpp"
#include "net/placemesh.capnp.h"

namespace placemesh {

namespace {
constexpr std::size_t word_bytes = sizeof(capnp::word);
}  // namespace

Bytes encode_link_message(const LinkMessage& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::LinkMessage>();
  if (const auto* version = std::get_if<RosterVersion>(&message)) {
    root.setRosterVersion(version->version);
  } else {
    const auto& text = std::get<RosterText>(message).text;
    root.setRoster(capnp::Text::Reader(text.data(), text.size()));
  }
  const auto words = capnp::messageToFlatArray(builder);
  const auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

Result<LinkMessage> decode_link_message(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > limits::frame_bytes_max)
    return make_error(Code::malformed, "message of " + std::to_string(bytes.size()) + " bytes exceeds the frame limit");
  if (bytes.empty() || bytes.size() % word_bytes != 0)
    return make_error(Code::malformed, "message of " + std::to_string(bytes.size()) +
                                           " bytes is not a whole number of 8-byte words");
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / word_bytes);
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits::frame_bytes_max / word_bytes * 2;
  options.nestingLimit = 8;
  Result<LinkMessage> result = make_error(Code::malformed, "unreadable message");
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] {
    capnp::FlatArrayMessageReader reader(words.asPtr(), options);
    const auto root = reader.getRoot<wire::LinkMessage>();
    switch (root.which()) {
      case wire::LinkMessage::ROSTER_VERSION:
        result = LinkMessage{RosterVersion{root.getRosterVersion()}};
        break;
      case wire::LinkMessage::ROSTER: {
        const auto text = root.getRoster();
        result = LinkMessage{RosterText{std::string(text.begin(), text.end())}};
        break;
      }
      default:
        result = make_error(Code::malformed, "unknown link message kind " + std::to_string(int(root.which())));
    }
  });
  KJ_IF_MAYBE(exception, failure) {
    return make_error(Code::malformed, std::string("message does not decode: ") + exception->getDescription().cStr());
  }
  return result;
}

}  // namespace placemesh
