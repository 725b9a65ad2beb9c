#pragma once
// Reading one Cap'n Proto flat-array message from untrusted bytes, for the
// codecs of net/ only (it includes Cap'n Proto): the length is checked first,
// the bytes are copied into aligned words, ReaderOptions are explicit, and
// every Cap'n Proto exception becomes `malformed` (STYLE 6, 10).

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "crdt/result.hpp"

namespace placemesh::flat {

inline constexpr std::size_t word_bytes = sizeof(capnp::word);

// `read(root_reader)` returns Result<T>; `what` names the thing in errors.
template <typename Root, typename T, typename Read>
[[nodiscard]] Result<T> read(std::span<const std::uint8_t> bytes, std::size_t bytes_max, std::string_view what,
                             Read&& read_root) {
  if (bytes.size() > bytes_max)
    return make_error(Code::malformed, std::string(what) + " of " + std::to_string(bytes.size()) +
                                           " bytes exceeds " + std::to_string(bytes_max));
  if (bytes.empty() || bytes.size() % word_bytes != 0)
    return make_error(Code::malformed, std::string(what) + " of " + std::to_string(bytes.size()) +
                                           " bytes is not a whole number of 8-byte words");
  // Cap'n Proto reads words in place: copy into aligned storage.
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / word_bytes);
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords = bytes_max / word_bytes * 2;
  options.nestingLimit = 8;
  Result<T> result = make_error(Code::malformed, "unreadable " + std::string(what));
  kj::Maybe<kj::Exception> failure = kj::runCatchingExceptions([&] {
    capnp::FlatArrayMessageReader reader(words.asPtr(), options);
    result = read_root(reader.template getRoot<Root>());
  });
  KJ_IF_MAYBE(exception, failure) {
    return make_error(Code::malformed,
                      std::string(what) + " does not decode: " + exception->getDescription().cStr());
  }
  return result;
}

}  // namespace placemesh::flat
