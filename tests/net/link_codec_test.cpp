// LinkMessage encoding: golden bytes lock the format (the schema only grows),
// and malformed input is refused with an error, never a crash.
#include <catch2/catch.hpp>

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

TEST_CASE("link_codec: messages read back as written") {
  for (const LinkMessage& message :
       {LinkMessage{RosterVersion{0}}, LinkMessage{RosterVersion{~std::uint64_t{0}}},
        LinkMessage{RosterText{""}}, LinkMessage{RosterText{std::string(100'000, 'x')}}}) {
    auto decoded = decode_link_message(encode_link_message(message));
    REQUIRE(decoded.ok());
    CHECK(decoded.value().index() == message.index());
    if (const auto* version = std::get_if<RosterVersion>(&message))
      CHECK(std::get<RosterVersion>(decoded.value()).version == version->version);
    else
      CHECK(std::get<RosterText>(decoded.value()).text == std::get<RosterText>(message).text);
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
