// The secure link's handshake and framing (net/secure_channel.hpp), driven
// in memory: who gets in, who does not and why, and that a link refuses
// tampered, replayed, reordered and oversize frames.
#include <catch2/catch.hpp>
#include <map>
#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include "crdt/limits.hpp"
#include "net/secure_channel.hpp"

using namespace placemesh;
using namespace placemesh::net;

namespace {

struct Node {
  std::unique_ptr<SecretKey> key = SecretKey::generate().value();
};

Membership members(std::map<PublicKey, KeyStatus> table) {
  return [table = std::move(table)](const PublicKey& key) {
    auto found = table.find(key);
    return found == table.end() ? KeyStatus::unknown : found->second;
  };
}

struct Outcome {
  std::optional<Reject> initiator_failed, responder_failed;
  bool initiator_done = false, responder_done = false;
};

// Runs both sides to the end, delivering everything; `tamper` may change the
// bytes from the initiator to the responder in flight.
Outcome run(Handshake& initiator, Handshake& responder, const std::function<void(Bytes&)>& tamper = {}) {
  Outcome outcome;
  Bytes to_responder = initiator.hello(), to_initiator = responder.hello();
  for (int round = 0; round < 4 && (!to_responder.empty() || !to_initiator.empty()); ++round) {
    if (tamper) tamper(to_responder);
    auto at_responder = responder.receive(to_responder);
    auto at_initiator = initiator.receive(to_initiator);
    to_responder = at_initiator.to_send;
    to_initiator = at_responder.to_send;
    outcome.initiator_failed = at_initiator.failed;
    outcome.responder_failed = at_responder.failed;
    outcome.initiator_done = at_initiator.done;
    outcome.responder_done = at_responder.done;
  }
  return outcome;
}

struct Pair {
  Node a, b;
  std::map<PublicKey, KeyStatus> roster{{a.key->public_key(), KeyStatus::member},
                                        {b.key->public_key(), KeyStatus::member}};

  // A handshake by `initiator` (in `network`, dialling `expected`) with b,
  // which answers in network "be" with this roster.
  Outcome handshake(Signer initiator, std::string_view network = "be",
                    std::optional<PublicKey> expected = std::nullopt) {
    Handshake from(Handshake::Role::initiator, std::move(initiator), network, members(roster), expected);
    Handshake to(Handshake::Role::responder, Signer::of(*b.key), "be", members(roster), std::nullopt);
    return run(from, to);
  }
};

}  // namespace

TEST_CASE("secure_channel: roster members complete the handshake and exchange messages both ways") {
  REQUIRE(sodium_ready());
  Pair pair;
  Handshake initiator(Handshake::Role::initiator, Signer::of(*pair.a.key), "be", members(pair.roster), pair.b.key->public_key());
  Handshake responder(Handshake::Role::responder, Signer::of(*pair.b.key), "be", members(pair.roster), std::nullopt);
  const auto outcome = run(initiator, responder);
  REQUIRE(outcome.initiator_done);
  REQUIRE(outcome.responder_done);
  CHECK(initiator.peer() == pair.b.key->public_key());
  CHECK(responder.peer() == pair.a.key->public_key());
  auto a = initiator.take_channel();
  auto b = responder.take_channel();
  const Bytes hello_world = {'h', 'i'};
  auto opened = b->open(a->seal(hello_world));
  REQUIRE_FALSE(opened.failed);
  REQUIRE(opened.messages.size() == 1);
  CHECK(opened.messages[0] == hello_world);
  opened = a->open(b->seal(Bytes(4096, 7)));
  REQUIRE(opened.messages.size() == 1);
  CHECK(opened.messages[0] == Bytes(4096, 7));
  // An empty message and a message of the full frame size pass too.
  CHECK(b->open(a->seal(Bytes{})).messages.size() == 1);
  CHECK(b->open(a->seal(Bytes(limits::frame_bytes_max, 1))).messages.at(0).size() == limits::frame_bytes_max);
}

TEST_CASE("secure_channel: frames survive any split of the byte stream, across rekeys") {
  REQUIRE(sodium_ready());
  Pair pair;
  Handshake initiator(Handshake::Role::initiator, Signer::of(*pair.a.key), "be", members(pair.roster), std::nullopt);
  Handshake responder(Handshake::Role::responder, Signer::of(*pair.b.key), "be", members(pair.roster), std::nullopt);
  REQUIRE(run(initiator, responder).responder_done);
  auto a = initiator.take_channel();
  auto b = responder.take_channel();
  rc::prop("any split", [&](const std::vector<std::vector<std::uint8_t>>& messages, std::uint8_t chunk) {
    Bytes stream;
    for (const auto& message : messages) {
      const auto frame = a->seal(message);
      stream.insert(stream.end(), frame.begin(), frame.end());
    }
    std::vector<Bytes> received;
    const std::size_t step = static_cast<std::size_t>(chunk % 50) + 1;
    for (std::size_t at = 0; at < stream.size(); at += step) {
      auto opened = b->open(std::span(stream).subspan(at, std::min(step, stream.size() - at)));
      RC_ASSERT(!opened.failed);
      for (auto& message : opened.messages) received.push_back(std::move(message));
    }
    RC_ASSERT(received == messages);
  });
  // Past a rekey boundary in one direction the other still reads.
  for (std::uint64_t i = a->frames_sealed(); i < rekey_interval_frames + 10; ++i)
    REQUIRE(b->open(a->seal(Bytes{1, 2, 3})).messages.size() == 1);
  CHECK(a->open(b->seal(Bytes{9})).messages.size() == 1);
}

TEST_CASE("secure_channel: the handshake refuses outsiders, revoked keys, other networks and wrong peers") {
  REQUIRE(sodium_ready());
  Pair pair;
  SECTION("a key not in the roster") {
    Node stranger;
    const auto outcome = pair.handshake(Signer::of(*stranger.key));
    CHECK(outcome.responder_failed == Reject::unknown_key);
    CHECK_FALSE(outcome.responder_done);
  }
  SECTION("a revoked key") {
    pair.roster[pair.a.key->public_key()] = KeyStatus::revoked;
    CHECK(pair.handshake(Signer::of(*pair.a.key)).responder_failed == Reject::revoked_key);
  }
  SECTION("another network id") {
    const auto outcome = pair.handshake(Signer::of(*pair.a.key), "nl");
    CHECK(outcome.responder_failed == Reject::wrong_network);
    CHECK(outcome.initiator_failed == Reject::wrong_network);
  }
  SECTION("the dialled node is not the one that answers") {
    Node third;
    pair.roster[third.key->public_key()] = KeyStatus::member;
    CHECK(pair.handshake(Signer::of(*pair.a.key), "be", third.key->public_key()).initiator_failed == Reject::wrong_peer);
  }
  SECTION("both sides claiming the same role") {
    Handshake one(Handshake::Role::initiator, Signer::of(*pair.a.key), "be", members(pair.roster), std::nullopt);
    Handshake two(Handshake::Role::initiator, Signer::of(*pair.b.key), "be", members(pair.roster), std::nullopt);
    const auto outcome = run(one, two);
    CHECK_FALSE(outcome.initiator_done);
    CHECK_FALSE(outcome.responder_done);
  }
}

TEST_CASE("secure_channel: a responder signs nothing until the initiator has proved itself a member") {
  REQUIRE(sodium_ready());
  Pair pair;
  int signatures = 0;
  auto counting = [&] {
    Signer signer = Signer::of(*pair.b.key);
    signer.sign = [&, inner = signer.sign](std::span<const std::uint8_t> message) {
      ++signatures;
      return inner(message);
    };
    return signer;
  };
  SECTION("a caller that only sends a hello gets nothing back") {
    Handshake caller(Handshake::Role::initiator, Signer::of(*pair.a.key), "be", members(pair.roster), std::nullopt);
    Handshake responder(Handshake::Role::responder, counting(), "be", members(pair.roster), std::nullopt);
    const auto progress = responder.receive(caller.hello());
    CHECK(progress.to_send.empty());
    CHECK_FALSE(progress.failed);
    CHECK(signatures == 0);
  }
  SECTION("a stranger's proof is refused without a signature") {
    Node stranger;
    Handshake from(Handshake::Role::initiator, Signer::of(*stranger.key), "be", members(pair.roster), std::nullopt);
    Handshake to(Handshake::Role::responder, counting(), "be", members(pair.roster), std::nullopt);
    const auto outcome = run(from, to);
    CHECK(outcome.responder_failed == Reject::unknown_key);
    CHECK(signatures == 0);
  }
  SECTION("a member's proof is answered with one signature") {
    Handshake from(Handshake::Role::initiator, Signer::of(*pair.a.key), "be", members(pair.roster), std::nullopt);
    Handshake to(Handshake::Role::responder, counting(), "be", members(pair.roster), std::nullopt);
    const auto outcome = run(from, to);
    CHECK(outcome.initiator_done);
    CHECK(outcome.responder_done);
    CHECK(signatures == 1);
  }
}

TEST_CASE("secure_channel: a tampered or replayed handshake message fails, and nothing is accepted") {
  REQUIRE(sodium_ready());
  Pair pair;
  SECTION("any flipped bit of the initiator's messages") {
    // Every byte of the hello and of the authentication frame is covered.
    for (std::size_t target = 0; target < hello_bytes + 24 + 4 + 96 + 17; ++target) {
      Handshake initiator(Handshake::Role::initiator, Signer::of(*pair.a.key), "be", members(pair.roster), std::nullopt);
      Handshake responder(Handshake::Role::responder, Signer::of(*pair.b.key), "be", members(pair.roster), std::nullopt);
      std::size_t seen = 0;
      const auto outcome = run(initiator, responder, [&](Bytes& bytes) {
        if (target >= seen && target < seen + bytes.size()) bytes[target - seen] ^= 0x01;
        seen += bytes.size();
      });
      INFO("flipped byte " << target);
      CHECK_FALSE(outcome.responder_done);
    }
  }
  SECTION("a member's public key with someone else's signature") {
    Node forger;
    const Signer impostor{pair.a.key->public_key(), [&](std::span<const std::uint8_t> message) {
                            return forger.key->sign(message);
                          }};
    const auto outcome = pair.handshake(impostor);
    CHECK(outcome.responder_failed == Reject::bad_signature);
    CHECK_FALSE(outcome.responder_done);
  }
  SECTION("a signature made for the other role (a reflected authentication)") {
    const Signer reflector{pair.a.key->public_key(), [&](std::span<const std::uint8_t> message) {
                             Bytes changed(message.begin(), message.end());
                             changed.back() = 2;  // sign as a responder while acting as the initiator
                             return pair.a.key->sign(changed);
                           }};
    CHECK(pair.handshake(reflector).responder_failed == Reject::bad_signature);
  }
  SECTION("an authentication frame recorded from an earlier connection") {
    Bytes recorded;
    {
      Handshake initiator(Handshake::Role::initiator, Signer::of(*pair.a.key), "be", members(pair.roster), std::nullopt);
      Handshake responder(Handshake::Role::responder, Signer::of(*pair.b.key), "be", members(pair.roster), std::nullopt);
      (void)responder.receive(initiator.hello());
      recorded = initiator.hello();
      const auto auth = initiator.receive(responder.hello()).to_send;
      recorded.insert(recorded.end(), auth.begin(), auth.end());
    }
    // An attacker replays the whole recorded initiator side to a new responder.
    Handshake responder(Handshake::Role::responder, Signer::of(*pair.b.key), "be", members(pair.roster), std::nullopt);
    const auto progress = responder.receive(recorded);
    CHECK_FALSE(progress.done);
    CHECK(progress.failed.has_value());
  }
}

TEST_CASE("secure_channel: tampered, replayed, reordered, truncated and oversize frames close the link") {
  REQUIRE(sodium_ready());
  Pair pair;
  auto connect = [&] {
    Handshake initiator(Handshake::Role::initiator, Signer::of(*pair.a.key), "be", members(pair.roster), std::nullopt);
    Handshake responder(Handshake::Role::responder, Signer::of(*pair.b.key), "be", members(pair.roster), std::nullopt);
    REQUIRE(run(initiator, responder).responder_done);
    return std::pair{initiator.take_channel(), responder.take_channel()};
  };
  SECTION("a flipped bit anywhere in a frame") {
    for (std::size_t bit = 0; bit < (4 + 3 + 17) * 8; ++bit) {
      auto [a, b] = connect();
      Bytes frame = a->seal(Bytes{1, 2, 3});
      frame[bit / 8] ^= static_cast<std::uint8_t>(1 << (bit % 8));
      const auto opened = b->open(frame);
      INFO("bit " << bit);
      CHECK(opened.messages.empty());
      // A flipped length bit can also just leave the frame incomplete.
      if (bit >= 32) CHECK(opened.failed == Reject::garbled_frame);
    }
  }
  SECTION("a replayed frame") {
    auto [a, b] = connect();
    const Bytes frame = a->seal(Bytes{1});
    CHECK(b->open(frame).messages.size() == 1);
    CHECK(b->open(frame).failed == Reject::garbled_frame);
    // ...and the link stays closed.
    CHECK(b->open(a->seal(Bytes{2})).failed == Reject::garbled_frame);
  }
  SECTION("frames out of order") {
    auto [a, b] = connect();
    const Bytes first = a->seal(Bytes{1});
    const Bytes second = a->seal(Bytes{2});
    CHECK(b->open(second).failed == Reject::garbled_frame);
  }
  SECTION("a length over the limit is refused before the frame arrives") {
    auto [a, b] = connect();
    const std::uint32_t length = limits::frame_bytes_max + 17 + 1;
    const Bytes header = {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
                          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
    CHECK(b->open(header).failed == Reject::oversize_frame);
  }
  SECTION("a frame cut short waits; a length under the tag size is garbage") {
    auto [a, b] = connect();
    const Bytes frame = a->seal(Bytes{1, 2, 3});
    auto opened = b->open(std::span(frame).first(frame.size() - 1));
    CHECK_FALSE(opened.failed);
    CHECK(opened.messages.empty());
    opened = b->open(std::span(frame).last(1));
    CHECK(opened.messages.size() == 1);
    CHECK(b->open(Bytes{0, 0, 0, 3, 1, 2, 3}).failed == Reject::garbled_frame);
  }
  SECTION("a frame from another link") {
    auto [a, b] = connect();
    auto [c, d] = connect();
    CHECK(b->open(c->seal(Bytes{1})).failed == Reject::garbled_frame);
  }
}
