#include "net/link_codec.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "crdt/limits.hpp"
#include "net/flat_message.hpp"
#include "net/placemesh.capnp.h"

namespace placemesh {

namespace {

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

Result<LinkMessage> read_digest(capnp::List<wire::OriginKnowledge>::Reader list) {
  if (list.size() > limits::digest_origins_max)
    return make_error(Code::malformed, "a digest of " + std::to_string(list.size()) + " origins");
  DigestMessage digest;
  std::size_t cloud_total = 0;
  for (auto entry : list) {
    auto origin = get_origin(entry.getOrigin());
    if (!origin) return origin.error();
    cloud_total += entry.getCloud().size();
    if (cloud_total > limits::digest_cloud_seqs_max)
      return make_error(Code::malformed, "a digest of more than " + std::to_string(limits::digest_cloud_seqs_max) +
                                             " cloud seqs");
    OriginKnowledge knowledge{entry.getThrough(), {}};
    for (std::uint64_t seq : entry.getCloud())
      if (seq > knowledge.through) knowledge.cloud.insert(seq);
    digest.digest[origin.value()] = std::move(knowledge);
  }
  return LinkMessage{std::move(digest)};
}

Result<LinkMessage> read_delta(wire::Delta::Reader in) {
  DeltaMessage delta;
  delta.delta.truncated = in.getTruncated();
  std::size_t total = 0, superseded_total = 0;
  if (in.getOrigins().size() > limits::delta_origins_max)
    return make_error(Code::malformed, "a delta of " + std::to_string(in.getOrigins().size()) + " origins; the limit is " +
                                           std::to_string(limits::delta_origins_max));
  for (auto entry : in.getOrigins()) {
    auto origin = get_origin(entry.getOrigin());
    if (!origin) return origin.error();
    auto records = get_records(entry.getRecords());
    if (!records) return records.error();
    total += records.value().size();
    if (total > limits::records_per_frame_max)
      return make_error(Code::malformed,
                        "a delta of more than " + std::to_string(limits::records_per_frame_max) + " records");
    const auto superseded = entry.getSuperseded();
    superseded_total += superseded.size();
    if (superseded_total > limits::superseded_per_delta_max)
      return make_error(Code::malformed, "a delta naming more than " +
                                             std::to_string(limits::superseded_per_delta_max) + " superseded seqs");
    std::vector<std::uint64_t> seqs;
    seqs.reserve(superseded.size());
    for (std::uint64_t seq : superseded) seqs.push_back(seq);
    delta.delta.origins.push_back(OriginDelta{origin.value(), entry.getBase(), entry.getThrough(),
                                              std::move(records).value(), std::move(seqs)});
  }
  return LinkMessage{std::move(delta)};
}

Result<LinkMessage> read_message(wire::LinkMessage::Reader root) {
  switch (root.which()) {
    case wire::LinkMessage::ROSTER_VERSION:
      return LinkMessage{RosterVersion{root.getRosterVersion()}};
    case wire::LinkMessage::ROSTER: {
      const auto text = root.getRoster();
      return LinkMessage{RosterText{std::string(text.begin(), text.end())}};
    }
    case wire::LinkMessage::RECORDS: {
      auto records = get_records(root.getRecords());
      if (!records) return records.error();
      return LinkMessage{RecordsMessage{std::move(records).value()}};
    }
    case wire::LinkMessage::DIGEST:
      return read_digest(root.getDigest());
    case wire::LinkMessage::DELTA:
      return read_delta(root.getDelta());
  }
  return make_error(Code::malformed, "unknown link message kind " + std::to_string(int(root.which())));
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
      if (!part.superseded.empty()) {
        auto superseded = entry.initSuperseded(static_cast<unsigned>(part.superseded.size()));
        for (unsigned j = 0; j < part.superseded.size(); ++j) superseded.set(j, part.superseded[j]);
      }
    }
  }
  const auto words = capnp::messageToFlatArray(builder);
  const auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

Result<LinkMessage> decode_link_message(std::span<const std::uint8_t> bytes) {
  return flat::read<wire::LinkMessage, LinkMessage>(bytes, limits::frame_bytes_max, "message", read_message);
}

}  // namespace placemesh
