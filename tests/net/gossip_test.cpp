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
  Received receive_records(const std::vector<Record>&) override { return {}; }
  Received receive_delta(const Delta&) override { return {}; }
  std::uint64_t roster_version() const override { return 1; }
  const std::string& roster_text() const override { return text_; }

  Digest known;  // what this node knows (empty unless a test fills it)

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
