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

void set_origin(wire::Origin::Builder out, const Origin& origin) {
  out.setKey(kj::ArrayPtr<const capnp::byte>(origin.key.data(), origin.key.size()));
  out.setEpoch(origin.epoch);
}

void set_records(capnp::List<capnp::Data>::Builder out, const std::vector<Record>& records) {
  for (unsigned i = 0; i < records.size(); ++i) {
    const Bytes encoded = encode(records[i]);
    out.set(i, kj::ArrayPtr<const capnp::byte>(encoded.data(), encoded.size()));
  }
}

Result<Origin> get_origin(wire::Origin::Reader in) {
  const auto key = in.getKey();
  if (key.size() != public_key_bytes) return make_error(Code::malformed, "an origin key is not 32 bytes");
  Origin origin;
  std::memcpy(origin.key.data(), key.begin(), key.size());
  origin.epoch = in.getEpoch();
  return origin;
}

Result<std::vector<Record>> get_records(capnp::List<capnp::Data>::Reader in) {
  if (in.size() > limits::records_per_frame_max)
    return make_error(Code::malformed, std::to_string(in.size()) + " records in one frame; the limit is " +
                                           std::to_string(limits::records_per_frame_max));
  std::vector<Record> records;
  records.reserve(in.size());
  for (auto data : in) {
    auto record = decode(std::span<const std::uint8_t>(data.begin(), data.size()));
    if (!record) return record.error();
    records.push_back(std::move(record).value());
  }
  return records;
}

}  // namespace

Bytes encode_link_message(const LinkMessage& message) {
  capnp::MallocMessageBuilder builder;
  auto root = builder.initRoot<wire::LinkMessage>();
  if (const auto* version = std::get_if<RosterVersion>(&message)) {
    root.setRosterVersion(version->version);
  } else if (const auto* roster = std::get_if<RosterText>(&message)) {
    root.setRoster(capnp::Text::Reader(roster->text.data(), roster->text.size()));
  } else if (const auto* records = std::get_if<RecordsMessage>(&message)) {
    set_records(root.initRecords(static_cast<unsigned>(records->records.size())), records->records);
  } else if (const auto* digest = std::get_if<DigestMessage>(&message)) {
    auto list = root.initDigest(static_cast<unsigned>(digest->digest.size()));
    unsigned i = 0;
    for (const auto& [origin, knowledge] : digest->digest) {
      auto entry = list[i++];
      set_origin(entry.initOrigin(), origin);
      entry.setThrough(knowledge.through);
      auto cloud = entry.initCloud(static_cast<unsigned>(knowledge.cloud.size()));
      unsigned j = 0;
      for (std::uint64_t seq : knowledge.cloud) cloud.set(j++, seq);
    }
  } else {
    const auto& delta = std::get<DeltaMessage>(message).delta;
    auto out = root.initDelta();
    out.setTruncated(delta.truncated);
    auto origins = out.initOrigins(static_cast<unsigned>(delta.origins.size()));
    for (unsigned i = 0; i < delta.origins.size(); ++i) {
      const auto& part = delta.origins[i];
      auto entry = origins[i];
      set_origin(entry.initOrigin(), part.origin);
      entry.setBase(part.base);
      entry.setThrough(part.through);
      set_records(entry.initRecords(static_cast<unsigned>(part.records.size())), part.records);
    }
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
      case wire::LinkMessage::RECORDS: {
        auto records = get_records(root.getRecords());
        result = records ? Result<LinkMessage>(LinkMessage{RecordsMessage{std::move(records).value()}})
                         : Result<LinkMessage>(records.error());
        break;
      }
      case wire::LinkMessage::DIGEST: {
        DigestMessage digest;
        const auto list = root.getDigest();
        if (list.size() > limits::records_per_frame_max) {
          result = make_error(Code::malformed, "a digest of " + std::to_string(list.size()) + " origins");
          break;
        }
        for (auto entry : list) {
          auto origin = get_origin(entry.getOrigin());
          if (!origin) {
            result = origin.error();
            return;
          }
          OriginKnowledge knowledge{entry.getThrough(), {}};
          for (std::uint64_t seq : entry.getCloud())
            if (seq > knowledge.through) knowledge.cloud.insert(seq);
          digest.digest[origin.value()] = std::move(knowledge);
        }
        result = LinkMessage{std::move(digest)};
        break;
      }
      case wire::LinkMessage::DELTA: {
        DeltaMessage delta;
        const auto in = root.getDelta();
        delta.delta.truncated = in.getTruncated();
        std::size_t total = 0;
        for (auto entry : in.getOrigins()) {
          auto origin = get_origin(entry.getOrigin());
          if (!origin) {
            result = origin.error();
            return;
          }
          auto records = get_records(entry.getRecords());
          if (!records) {
            result = records.error();
            return;
          }
          total += records.value().size();
          if (total > limits::records_per_frame_max) {
            result = make_error(Code::malformed, "a delta of more than " +
                                                     std::to_string(limits::records_per_frame_max) + " records");
            return;
          }
          delta.delta.origins.push_back(
              OriginDelta{origin.value(), entry.getBase(), entry.getThrough(), std::move(records).value()});
        }
        result = LinkMessage{std::move(delta)};
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
