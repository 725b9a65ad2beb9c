// net/gossip: the replication state machine, driven by hand (the simulator,
// tests/sim, drives it at scale).
#include "net/gossip.hpp"

#include <catch2/catch.hpp>

using namespace placemesh;

namespace {

class QuietHost final : public GossipHost {
 public:
  const Digest& digest() const override { return known; }
  Delta delta_for(const Digest&) const override { return {}; }
  Received receive_records(const std::vector<Record>&) override { return Received{{}, refuse}; }
  Received receive_delta(const Delta&) override {
    ++deltas_taken;
    return {};
  }
  std::uint64_t roster_version() const override { return 1; }
  const std::string& roster_text() const override { return text_; }

  Digest known;  // what this node knows (empty unless a test fills it)
  std::vector<Error> refuse;  // what receive_records says it refused
  int deltas_taken = 0;

 private:
  std::string text_;
};

class RecordingTransport final : public GossipTransport {
 public:
  bool send(const PublicKey& peer, const Bytes& bytes) override {
    sent.emplace_back(peer, bytes);
    return true;
  }
  void close(const PublicKey& peer, const std::string& why) override { closed.emplace_back(peer, why); }
  void dial(const PublicKey& peer) override { dialled.push_back(peer); }
  std::vector<std::pair<PublicKey, std::string>> closed;
  std::vector<PublicKey> dialled;
  std::vector<std::pair<PublicKey, Bytes>> sent;
  // How many roster versions went to `peer`.
  std::size_t versions_to(const PublicKey& peer) const {
    std::size_t count = 0;
    for (const auto& [to, bytes] : sent) {
      auto message = decode_link_message(bytes);
      count += to == peer && message.ok() && std::holds_alternative<RosterVersion>(message.value());
    }
    return count;
  }
};

class QuietEvents final : public GossipEvents {
 public:
  void refused(const PublicKey&, const std::string& reason) override { refusals.push_back(reason); }
  void roster_offered(const PublicKey&, const std::string&) override {}
  void link_lost(const PublicKey&, const std::string&) override {}
  std::vector<std::string> refusals;
};

PublicKey key_of(std::uint8_t byte) {
  PublicKey key{};
  key.fill(byte);
  return key;
}

// This node (0x10) dials 0x20 and is dialled by 0x05; both links up at 0.
struct Pair {
  Pair() : gossip(settings(), host, transport, events, [this] { return now; }, 1) {
    gossip.set_peers({dialled, dialler});
    gossip.link_up(dialled);
    gossip.link_up(dialler);
  }
  static GossipSettings settings() {
    GossipSettings out;
    out.self = key_of(0x10);
    return out;
  }
  // Both peers' digests arrive, then the node ticks, at `at`.
  void talk_and_tick(std::int64_t at) {
    now = at;
    const Bytes digest = encode_link_message(DigestMessage{Digest{}});
    gossip.message(dialled, digest);
    gossip.message(dialler, digest);
    gossip.tick();
  }
  std::int64_t now = 0;
  QuietHost host;
  RecordingTransport transport;
  QuietEvents events;
  const PublicKey dialled = key_of(0x20), dialler = key_of(0x05);
  Gossip gossip;
};

}  // namespace

TEST_CASE("gossip: links whose peers talk every interval stay up") {
  Pair pair;
  for (std::int64_t at = 1'000; at <= 20'000; at += 1'000) pair.talk_and_tick(at);
  CHECK(pair.transport.closed.empty());
}

TEST_CASE("gossip: a tick exactly at the silence limit is not a stall, one millisecond later is") {
  Pair pair;
  pair.talk_and_tick(1'000);
  pair.talk_and_tick(1'000 + Pair::settings().silence_max_ms);
  CHECK(pair.transport.closed.empty());
  pair.talk_and_tick(1'000 + 2 * Pair::settings().silence_max_ms + 1);
  CHECK(pair.transport.closed.size() == 2);
}

TEST_CASE("gossip: a peer whose messages still wait to be taken is not silent, and one that sends nothing is") {
  // What a peer sent may wait behind its large deltas while their signatures
  // are checked off the io thread (node/inbound_verifier): arrival counts.
  Pair pair;
  pair.talk_and_tick(1'000);
  for (std::int64_t at = 2'000; at <= 1'000 + 3 * Pair::settings().silence_max_ms; at += 1'000) {
    pair.now = at;
    pair.gossip.heard(pair.dialled);
    pair.gossip.tick();
  }
  REQUIRE_FALSE(pair.transport.closed.empty());
  for (const auto& [peer, why] : pair.transport.closed) {
    CHECK(peer == pair.dialler);
    CHECK(why.find("silent for") != std::string::npos);
  }
}

TEST_CASE("gossip: a node stalled past the silence limit closes every link and redials at once") {
  Pair pair;
  pair.talk_and_tick(1'000);
  const std::size_t dials_before = pair.transport.dialled.size();
  // Frozen for a minute; on waking, its sockets still deliver what the peers
  // sent before they gave up, which looks like fresh contact.
  pair.talk_and_tick(61'000);
  REQUIRE(pair.transport.closed.size() == 2);
  CHECK(pair.transport.closed[0].second.find("stalled for 60 s") != std::string::npos);
  pair.gossip.link_down(pair.dialled, "closed");
  pair.gossip.link_down(pair.dialler, "closed");
  // The peer it dials is dialled again within the shortest backoff (100 ms ± 25 %).
  pair.now += 125;
  pair.gossip.tick();
  CHECK(pair.transport.dialled.size() == dials_before + 1);
  CHECK(pair.transport.dialled.back() == pair.dialled);
}

TEST_CASE("gossip: each link hears the roster version again every announce interval, not only when it comes up") {
  Pair pair;
  CHECK(pair.transport.versions_to(pair.dialled) == 1);  // when the link came up
  const std::int64_t every = Pair::settings().roster_announce_ms;
  for (std::int64_t at = 1'000; at < every; at += 1'000) pair.talk_and_tick(at);
  CHECK(pair.transport.versions_to(pair.dialled) == 1);
  for (std::int64_t at = every; at < 2 * every; at += 1'000) pair.talk_and_tick(at);
  // A peer whose copy of a roster offer was dropped answers with its older
  // version, and is sent the roster again.
  CHECK(pair.transport.versions_to(pair.dialled) == 2);
  CHECK(pair.transport.versions_to(pair.dialler) == 2);
}

TEST_CASE("gossip: a digest over the limits peers hold it to is sent within them, and what was left out is counted") {
  // A node that took one key's flood of epochs before it had limits (or a
  // store from then): its own digest must not close every link it has.
  Pair pair;
  for (std::uint64_t epoch = 1; epoch <= limits::digest_origins_max + 100; ++epoch) {
    OriginKnowledge& knowledge = pair.host.known[Origin{key_of(0x77), epoch}];
    knowledge.through = 1;
    for (std::uint64_t seq = 3; seq < 3 + 2 * 40; seq += 2) knowledge.cloud.insert(seq);  // 40 seqs above a gap
  }
  pair.transport.sent.clear();
  pair.talk_and_tick(limits::sync_interval_ms);
  std::size_t digests = 0;
  for (const auto& [to, bytes] : pair.transport.sent) {
    auto message = decode_link_message(bytes);
    REQUIRE(message.ok());  // what the peer's decoder would say
    const auto* digest = std::get_if<DigestMessage>(&message.value());
    if (digest == nullptr) continue;
    ++digests;
    CHECK(digest->digest.size() == limits::digest_origins_max);
    std::size_t cloud = 0;
    for (const auto& [origin, knowledge] : digest->digest) cloud += knowledge.cloud.size();
    CHECK(cloud <= limits::digest_cloud_seqs_max);
    CHECK(cloud + 40 > limits::digest_cloud_seqs_max);  // as much as fits
  }
  CHECK(digests == 2);  // one to each peer
  CHECK(pair.gossip.left_out().origins == 2 * 100);
  CHECK(pair.gossip.left_out().cloud_seqs == 2 * (limits::digest_origins_max - limits::digest_cloud_seqs_max / 40) * 40);
  CHECK(pair.transport.closed.empty());
}

namespace {

Bytes delta_message() { return encode_link_message(DeltaMessage{Delta{}}); }
Bytes records_message() { return encode_link_message(RecordsMessage{}); }

bool closed_for(const RecordingTransport& transport, const PublicKey& peer, std::string_view why) {
  for (const auto& [key, reason] : transport.closed)
    if (key == peer && reason.find(why) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("gossip: a delta is taken only as the answer to a digest this node sent on that link") {
  // A member that pushes deltas nobody asked for must not be able to feed
  // knowledge in: only one answer per digest sent, on the link it went out on.
  Pair pair;  // the link to `dialled` came up first and was sent a catch-up digest; `dialler` none
  pair.gossip.message(pair.dialler, delta_message());
  CHECK(pair.host.deltas_taken == 0);
  CHECK(pair.gossip.peer(pair.dialler)->unasked_deltas == 1);
  CHECK(pair.events.refusals == std::vector<std::string>{"unasked_delta"});
  pair.gossip.message(pair.dialled, delta_message());  // the answer to its digest
  CHECK(pair.host.deltas_taken == 1);
  pair.gossip.message(pair.dialled, delta_message());  // a second "answer" to it
  CHECK(pair.host.deltas_taken == 1);
  CHECK(pair.gossip.peer(pair.dialled)->unasked_deltas == 1);
  // Each digest of the next interval may be answered once, in any order.
  pair.talk_and_tick(limits::sync_interval_ms);
  pair.talk_and_tick(2 * limits::sync_interval_ms);
  for (int i = 0; i < 2; ++i) {
    pair.gossip.message(pair.dialler, delta_message());
    pair.gossip.message(pair.dialled, delta_message());
  }
  CHECK(pair.host.deltas_taken == 5);
  pair.gossip.message(pair.dialler, delta_message());
  CHECK(pair.host.deltas_taken == 5);
  // A digest sent on a link that then went down is not answered on the next.
  pair.talk_and_tick(3 * limits::sync_interval_ms);  // one digest to each, unanswered
  pair.gossip.link_down(pair.dialled, "closed");
  pair.gossip.link_up(pair.dialled);  // the new link's catch-up digest
  pair.gossip.message(pair.dialled, delta_message());
  pair.gossip.message(pair.dialled, delta_message());
  CHECK(pair.host.deltas_taken == 6);
  CHECK(pair.gossip.peer(pair.dialled)->unasked_deltas == 2);
  CHECK(pair.transport.closed.empty());  // a few unasked deltas cost no link
}

TEST_CASE("gossip: a member that keeps sending what no honest member sends loses its link and is backed off") {
  Pair pair;
  const GossipSettings settings = Pair::settings();
  SECTION("refusals an honest relay causes never count") {
    pair.host.refuse = {make_error(Code::clock_skew, "ahead"), make_error(Code::quota_exceeded, "epochs"),
                        make_error(Code::not_owner, "not in our roster yet")};
    for (std::size_t i = 0; i < 4 * settings.strikes_max; ++i) pair.gossip.message(pair.dialled, records_message());
    CHECK(pair.transport.closed.empty());
    CHECK(pair.gossip.peer(pair.dialled)->backoffs == 0);
  }
  SECTION("strikes spread wider than the window do not add up") {
    pair.host.refuse = {make_error(Code::bad_signature, "forged")};
    for (int round = 0; round < 3; ++round) {
      for (std::size_t i = 0; i + 1 < settings.strikes_max; ++i) pair.gossip.message(pair.dialled, records_message());
      pair.now += settings.strike_window_ms;
      pair.gossip.message(pair.dialled, encode_link_message(DigestMessage{Digest{}}));  // keeps the link alive
    }
    CHECK(pair.transport.closed.empty());
  }
  SECTION("bad signatures from a peer this node dials: closed, and not dialled again until the backoff ends") {
    pair.host.refuse = {make_error(Code::bad_signature, "forged")};
    for (std::size_t i = 0; i + 1 < settings.strikes_max; ++i) pair.gossip.message(pair.dialled, records_message());
    CHECK(pair.transport.closed.empty());
    pair.gossip.message(pair.dialled, records_message());
    REQUIRE(pair.transport.closed.size() == 1);
    CHECK(closed_for(pair.transport, pair.dialled, "misbehaving: 32 refusals in 60 s, the last bad_signature"));
    CHECK(std::count(pair.events.refusals.begin(), pair.events.refusals.end(), "misbehaving_peer") == 1);
    CHECK(pair.gossip.peer(pair.dialled)->backoffs == 1);
    pair.gossip.link_down(pair.dialled, "closed");
    const std::size_t dials = pair.transport.dialled.size();
    for (std::int64_t at = pair.now; at < settings.misbehaving_backoff_ms; at += limits::sync_interval_ms) {
      pair.now = at;
      pair.gossip.message(pair.dialler, encode_link_message(DigestMessage{Digest{}}));
      pair.gossip.tick();
    }
    CHECK(pair.transport.dialled.size() == dials);  // not even after a stall, which redials everyone else at once
    pair.now = settings.misbehaving_backoff_ms + 1;
    pair.gossip.tick();
    CHECK(pair.transport.dialled.size() == dials + 1);
  }
  SECTION("unasked deltas from a peer that dials this node: closed, and its links refused until the backoff ends") {
    for (std::size_t i = 0; i < settings.strikes_max; ++i) pair.gossip.message(pair.dialler, delta_message());
    CHECK(pair.host.deltas_taken == 0);
    CHECK(closed_for(pair.transport, pair.dialler, "the last unasked_delta"));
    pair.gossip.link_down(pair.dialler, "closed");
    pair.now = settings.misbehaving_backoff_ms - 1;
    pair.gossip.link_up(pair.dialler);
    CHECK(closed_for(pair.transport, pair.dialler, "backed off for misbehaving"));
    CHECK(pair.gossip.peer(pair.dialler)->state != GossipPeer::State::up);
    pair.transport.closed.clear();
    pair.now = settings.misbehaving_backoff_ms;
    pair.gossip.link_up(pair.dialler);
    CHECK(pair.gossip.peer(pair.dialler)->state == GossipPeer::State::up);
    CHECK(pair.transport.closed.empty());
  }
  SECTION("a roster that does not verify is a strike, reported by the node core") {
    for (std::size_t i = 0; i < settings.strikes_max; ++i) pair.gossip.misbehaved(pair.dialled, "bad_roster");
    CHECK(closed_for(pair.transport, pair.dialled, "the last bad_roster"));
  }
}
