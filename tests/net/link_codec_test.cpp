// LinkMessage encoding: golden bytes lock the format (the schema only grows),
// and malformed input is refused with an error, never a crash.
#include <catch2/catch.hpp>

#include "crdt/key.hpp"
#include "crdt/limits.hpp"
#include "net/link_codec.hpp"

using namespace placemesh;

TEST_CASE("link_codec: golden bytes of each link message") {
  // Cap'n Proto flat array: segment table, root pointer, the struct's data
  // words, its pointer. Changing these bytes breaks every deployed node.
  const Bytes version = encode_link_message(RosterVersion{7});
  CHECK(version == Bytes{0, 0, 0, 0, 4, 0, 0, 0,  // one segment of four words
                         0, 0, 0, 0, 2, 0, 1, 0,  // root: struct of two data words and one pointer
                         7, 0, 0, 0, 0, 0, 0, 0,  // data word 0: rosterVersion = 7
                         0, 0, 0, 0, 0, 0, 0, 0,  // data word 1: union tag 0 (rosterVersion)
                         0, 0, 0, 0, 0, 0, 0, 0});  // pointer: none
  const Bytes roster = encode_link_message(RosterText{"ab"});
  CHECK(roster == Bytes{0, 0, 0, 0, 5, 0, 0, 0,     // one segment of five words
                        0, 0, 0, 0, 2, 0, 1, 0,     // root: struct of two data words and one pointer
                        0, 0, 0, 0, 0, 0, 0, 0,     // data word 0: unused by this variant
                        1, 0, 0, 0, 0, 0, 0, 0,     // data word 1: union tag 1 (roster)
                        1, 0, 0, 0, 26, 0, 0, 0,    // pointer: list of 3 bytes ("ab" and NUL)
                        'a', 'b', 0, 0, 0, 0, 0, 0});
}

TEST_CASE("link_codec: golden bytes of a digest") {
  // One origin (key 0xAB…, epoch 5) known through seq 3, plus seq 5.
  Origin origin;
  origin.key.fill(0xAB);
  origin.epoch = 5;
  Digest digest;
  digest[origin] = OriginKnowledge{3, {5}};
  const Bytes expected = {
      0, 0, 0, 0, 15, 0, 0, 0,  0, 0, 0, 0, 2, 0, 1, 0,   // segment of 15 words; root struct (2 data words, 1 pointer)
      0, 0, 0, 0, 0, 0, 0, 0,   3, 0, 0, 0, 0, 0, 0, 0,   // data word 0 unused; word 1: union tag 3 (digest)
      1, 0, 0, 0, 31, 0, 0, 0,  4, 0, 0, 0, 1, 0, 2, 0,   // list of 1 struct; tag: 1 data word, 2 pointers
      3, 0, 0, 0, 0, 0, 0, 0,   4, 0, 0, 0, 1, 0, 1, 0,   // through = 3; origin: struct (1 data word, 1 pointer)
      25, 0, 0, 0, 13, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,   // cloud: list of 1 UInt64; origin.epoch = 5
      1, 0, 0, 0, 2, 1, 0, 0,                             // origin.key: 32 bytes
      171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171,
      171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171,
      5, 0, 0, 0, 0, 0, 0, 0};                            // cloud[0] = 5
  CHECK(encode_link_message(DigestMessage{digest}) == expected);
  auto decoded = decode_link_message(expected);
  REQUIRE(decoded.ok());
  CHECK(std::get<DigestMessage>(decoded.value()).digest == digest);
}

TEST_CASE("link_codec: golden bytes of a delta naming a superseded seq") {
  // One origin (key 0xAB…, epoch 5): no records, base and through 1, seq 3
  // superseded (issue 13).
  Origin origin;
  origin.key.fill(0xAB);
  origin.epoch = 5;
  Delta delta;
  delta.origins.push_back(OriginDelta{origin, 1, 1, {}, {3}});
  const Bytes expected = {
      0, 0, 0, 0, 19, 0, 0, 0,  0, 0, 0, 0, 2, 0, 1, 0,   // segment of 19 words; root struct (2 data words, 1 pointer)
      0, 0, 0, 0, 0, 0, 0, 0,   4, 0, 0, 0, 0, 0, 0, 0,   // data word 0 unused; word 1: union tag 4 (delta)
      0, 0, 0, 0, 1, 0, 1, 0,   0, 0, 0, 0, 0, 0, 0, 0,   // delta: struct (1 data word, 1 pointer); truncated = false
      1, 0, 0, 0, 47, 0, 0, 0,  4, 0, 0, 0, 2, 0, 3, 0,   // origins: list of 1 struct; tag: 2 data words, 3 pointers
      1, 0, 0, 0, 0, 0, 0, 0,   1, 0, 0, 0, 0, 0, 0, 0,   // base = 1; through = 1
      8, 0, 0, 0, 1, 0, 1, 0,   29, 0, 0, 0, 6, 0, 0, 0,  // origin: struct (1 data word, 1 pointer); records: none
      25, 0, 0, 0, 13, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,   // superseded: list of 1 UInt64; origin.epoch = 5
      1, 0, 0, 0, 2, 1, 0, 0,                             // origin.key: 32 bytes
      171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171,
      171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171,
      3, 0, 0, 0, 0, 0, 0, 0};                            // superseded[0] = 3
  CHECK(encode_link_message(DeltaMessage{delta}) == expected);
  auto decoded = decode_link_message(expected);
  REQUIRE(decoded.ok());
  CHECK(std::get<DeltaMessage>(decoded.value()).delta == delta);
}

TEST_CASE("link_codec: a delta from a node that predates superseded seqs still reads") {
  // The same answer as written before the field existed (2 pointers per
  // origin): it reads with no superseded seqs, so old and new nodes mix.
  const Bytes old = {
      0, 0, 0, 0, 17, 0, 0, 0,  0, 0, 0, 0, 2, 0, 1, 0,
      0, 0, 0, 0, 0, 0, 0, 0,   4, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 1, 0, 1, 0,   0, 0, 0, 0, 0, 0, 0, 0,
      1, 0, 0, 0, 39, 0, 0, 0,  4, 0, 0, 0, 2, 0, 2, 0,   // origins: list of 1 struct; tag: 2 data words, 2 pointers
      1, 0, 0, 0, 0, 0, 0, 0,   1, 0, 0, 0, 0, 0, 0, 0,
      4, 0, 0, 0, 1, 0, 1, 0,   1, 0, 0, 0, 6, 0, 0, 0,   // origin: struct right after; records: none
      5, 0, 0, 0, 0, 0, 0, 0,   1, 0, 0, 0, 2, 1, 0, 0,
      171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171,
      171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171, 171};
  auto decoded = decode_link_message(old);
  REQUIRE(decoded.ok());
  const Delta& delta = std::get<DeltaMessage>(decoded.value()).delta;
  REQUIRE(delta.origins.size() == 1);
  CHECK(delta.origins[0].origin.epoch == 5);
  CHECK(delta.origins[0].through == 1);
  CHECK(delta.origins[0].superseded.empty());
}

TEST_CASE("link_codec: a delta naming more superseded seqs than the limit is refused") {
  Origin origin;
  origin.epoch = 1;
  Delta delta;
  delta.origins.push_back(OriginDelta{origin, 0, 0, {}, std::vector<std::uint64_t>(limits::superseded_per_delta_max, 2)});
  CHECK(decode_link_message(encode_link_message(DeltaMessage{delta})).ok());
  delta.origins.push_back(OriginDelta{origin, 0, 0, {}, {2}});
  auto refused = decode_link_message(encode_link_message(DeltaMessage{delta}));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Code::malformed);
}

TEST_CASE("link_codec: a digest of more cloud seqs, or a delta of more origins, than the limits is refused") {
  Digest digest;
  for (std::uint64_t epoch = 1; epoch <= 16; ++epoch)
    for (std::uint64_t seq = 3; seq < 3 + 2 * (limits::digest_cloud_seqs_max / 16); seq += 2)
      digest[Origin{{}, epoch}].cloud.insert(seq);
  CHECK(decode_link_message(encode_link_message(DigestMessage{digest})).ok());
  digest[Origin{{}, 17}].cloud.insert(3);
  auto digest_refused = decode_link_message(encode_link_message(DigestMessage{digest}));
  REQUIRE_FALSE(digest_refused.ok());
  CHECK(digest_refused.error().code == Code::malformed);

  Delta delta;
  for (std::uint64_t epoch = 1; epoch <= limits::delta_origins_max; ++epoch)
    delta.origins.push_back(OriginDelta{Origin{{}, epoch}, 0, 1, {}, {}});
  CHECK(decode_link_message(encode_link_message(DeltaMessage{delta})).ok());
  delta.origins.push_back(OriginDelta{Origin{{}, 9'999}, 0, 1, {}, {}});
  auto delta_refused = decode_link_message(encode_link_message(DeltaMessage{delta}));
  REQUIRE_FALSE(delta_refused.ok());
  CHECK(delta_refused.error().code == Code::malformed);
}

TEST_CASE("link_codec: messages read back as written") {
  for (const LinkMessage& message :
       {LinkMessage{RosterVersion{0}}, LinkMessage{RosterVersion{~std::uint64_t{0}}},
        LinkMessage{RosterText{""}}, LinkMessage{RosterText{std::string(100'000, 'x')}},
        LinkMessage{RecordsMessage{}}, LinkMessage{DigestMessage{}}, LinkMessage{DeltaMessage{}}}) {
    auto decoded = decode_link_message(encode_link_message(message));
    REQUIRE(decoded.ok());
    CHECK(decoded.value().index() == message.index());
    if (const auto* version = std::get_if<RosterVersion>(&message))
      CHECK(std::get<RosterVersion>(decoded.value()).version == version->version);
    else if (const auto* text = std::get_if<RosterText>(&message))
      CHECK(std::get<RosterText>(decoded.value()).text == text->text);
  }
}

TEST_CASE("link_codec: truncated, bit-flipped, misaligned and oversize input is refused or read safely") {
  const Bytes good = encode_link_message(RosterText{"placemesh"});
  CHECK_FALSE(decode_link_message(Bytes{}).ok());
  CHECK_FALSE(decode_link_message(Bytes(7, 0)).ok());
  for (std::size_t cut = 8; cut < good.size(); cut += 8) CHECK_FALSE(decode_link_message(std::span(good).first(cut)).ok());
  for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
    Bytes flipped = good;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1 << (bit % 8));
    (void)decode_link_message(flipped);  // an error or some message; never a crash (ASan build)
  }
  // A segment table that claims far more words than there are.
  Bytes lying = good;
  lying[4] = 0xFF;
  lying[5] = 0xFF;
  CHECK_FALSE(decode_link_message(lying).ok());
  CHECK_FALSE(decode_link_message(Bytes((1 << 20) + 8, 0)).ok());
}

TEST_CASE("link_codec: records, digests and deltas carry records intact, and a bad record fails the message") {
  Record record{Origin{PublicKey{}, 9}, 4, Hlc{1'795'000'000'000, 1}, Key{Field::heartbeat, "", ""}, Heartbeat{}, {}};
  record.origin.key.fill(7);
  record.signature.fill(3);
  auto pushed = decode_link_message(encode_link_message(RecordsMessage{{record, record}}));
  REQUIRE(pushed.ok());
  CHECK(std::get<RecordsMessage>(pushed.value()).records == std::vector<Record>{record, record});
  Delta delta;
  delta.truncated = true;
  delta.origins.push_back(OriginDelta{record.origin, 2, 4, {record}, {}});
  auto answered = decode_link_message(encode_link_message(DeltaMessage{delta}));
  REQUIRE(answered.ok());
  CHECK(std::get<DeltaMessage>(answered.value()).delta == delta);
  // A record that breaks crdt's rules (seq 0) makes the whole message malformed.
  Record bad = record;
  bad.seq = 0;
  auto refused = decode_link_message(encode_link_message(RecordsMessage{{record, bad}}));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Code::invalid_record);
}
