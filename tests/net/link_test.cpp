// Links over real loopback sockets: members connect and talk; outsiders,
// garbage, silence and oversize frames are refused with a counted reason.
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <map>

#include "net/link.hpp"
#include "tests/support/run_io.hpp"

using namespace placemesh;
using namespace placemesh::net;
using asio::ip::tcp;

namespace {

constexpr auto deadline = std::chrono::seconds(10);

struct Harness {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::unique_ptr<SecretKey> server_key = SecretKey::generate().value();
  std::unique_ptr<SecretKey> client_key = SecretKey::generate().value();
  std::map<PublicKey, KeyStatus> roster{{server_key->public_key(), KeyStatus::member},
                                        {client_key->public_key(), KeyStatus::member}};
  LinkEvents events;
  std::vector<std::shared_ptr<Link>> links;
  int ups = 0;
  std::vector<Bytes> messages;
  std::vector<std::pair<std::optional<Reject>, std::string>> downs;
  std::chrono::milliseconds handshake_timeout{5'000};

  Harness() {
    events.up = [this](const std::shared_ptr<Link>&) { ++ups; };
    events.message = [this](const std::shared_ptr<Link>&, Bytes message) { messages.push_back(std::move(message)); };
    events.down = [this](const std::shared_ptr<Link>&, std::optional<Reject> reason, const std::string& why) {
      downs.emplace_back(reason, why);
    };
  }
  Membership membership() {
    return [this](const PublicKey& key) {
      auto found = roster.find(key);
      return found == roster.end() ? KeyStatus::unknown : found->second;
    };
  }
  void accept_one() {
    acceptor.async_accept([this](std::error_code ec, tcp::socket socket) {
      if (ec) return;
      links.push_back(Link::start(std::move(socket),
                                  {Handshake::Role::responder, Signer::of(*server_key), "be", membership(),
                                   std::nullopt, handshake_timeout},
                                  events));
    });
  }
  std::shared_ptr<Link> dial(const SecretKey& key, std::optional<PublicKey> expected) {
    tcp::socket socket(io);
    socket.connect(acceptor.local_endpoint());
    auto link = Link::start(std::move(socket),
                            {Handshake::Role::initiator, Signer::of(key), "be", membership(), expected, handshake_timeout},
                            events);
    links.push_back(link);
    return link;
  }
  // Runs the io_context until `done` holds or the deadline passes.
  bool run_until(const std::function<bool()>& done) { return test::run_io_until(io, deadline, done); }
};

}  // namespace

TEST_CASE("link: two members connect and exchange messages both ways") {
  REQUIRE(sodium_ready());
  Harness h;
  h.accept_one();
  auto client = h.dial(*h.client_key, h.server_key->public_key());
  REQUIRE(h.run_until([&] { return h.ups == 2; }));
  CHECK(client->peer() == h.server_key->public_key());
  REQUIRE(h.links.size() == 2);
  const auto& server = h.links[0] == client ? h.links[1] : h.links[0];
  CHECK(server->peer() == h.client_key->public_key());
  CHECK(client->send(Bytes{1, 2, 3}));
  CHECK(server->send(Bytes(100'000, 9)));
  REQUIRE(h.run_until([&] { return h.messages.size() == 2; }));
  CHECK((h.messages[0] == Bytes{1, 2, 3} || h.messages[1] == Bytes{1, 2, 3}));
  client->close("test over");
  REQUIRE(h.run_until([&] { return h.downs.size() == 2; }));
  CHECK_FALSE(h.downs[0].first.has_value());
}

TEST_CASE("link: an outsider and a revoked member are refused with their reason") {
  REQUIRE(sodium_ready());
  Harness h;
  SECTION("unknown key") {
    auto stranger = SecretKey::generate();
    h.accept_one();
    h.dial(*stranger.value(), std::nullopt);
    REQUIRE(h.run_until([&] { return h.downs.size() == 2; }));
    CHECK(h.ups == 0);  // the node never proves itself to an outsider: it learns nothing but a closed connection
    bool counted = false;
    for (const auto& [reason, why] : h.downs) counted = counted || reason == Reject::unknown_key;
    CHECK(counted);
  }
  SECTION("revoked key") {
    h.roster[h.client_key->public_key()] = KeyStatus::revoked;
    h.accept_one();
    h.dial(*h.client_key, std::nullopt);
    REQUIRE(h.run_until([&] { return h.downs.size() == 2; }));
    bool counted = false;
    for (const auto& [reason, why] : h.downs) counted = counted || reason == Reject::revoked_key;
    CHECK(counted);
  }
}

TEST_CASE("link: garbage, silence and an oversize frame close the connection") {
  REQUIRE(sodium_ready());
  Harness h;
  SECTION("an HTTP request to the gossip port") {
    h.accept_one();
    tcp::socket raw(h.io);
    raw.connect(h.acceptor.local_endpoint());
    const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(100, 'x');
    asio::write(raw, asio::buffer(request));
    REQUIRE(h.run_until([&] { return h.downs.size() == 1; }));
    CHECK(h.downs[0].first == Reject::wrong_network);
  }
  SECTION("a connection that never says anything") {
    h.handshake_timeout = std::chrono::milliseconds(200);
    h.accept_one();
    tcp::socket raw(h.io);
    raw.connect(h.acceptor.local_endpoint());
    REQUIRE(h.run_until([&] { return h.downs.size() == 1; }));
    CHECK(h.downs[0].second == "handshake timeout");
  }
  SECTION("a member that sends a frame over the limit") {
    h.accept_one();
    tcp::socket raw(h.io);
    raw.connect(h.acceptor.local_endpoint());
    // Complete a real handshake by hand, then send a length over the limit.
    Handshake handshake(Handshake::Role::initiator, Signer::of(*h.client_key), "be", h.membership(), std::nullopt);
    asio::write(raw, asio::buffer(handshake.hello()));
    Bytes in(4096);
    Handshake::Progress progress;
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (!progress.done && !progress.failed && std::chrono::steady_clock::now() < until) {
      h.io.restart();
      h.io.poll();
      std::error_code ec;
      raw.non_blocking(true);
      const auto n = raw.read_some(asio::buffer(in), ec);
      if (ec == asio::error::would_block) continue;
      REQUIRE_FALSE(ec);
      progress = handshake.receive(std::span(in).first(n));
      if (!progress.to_send.empty()) {
        raw.non_blocking(false);
        asio::write(raw, asio::buffer(progress.to_send));
      }
    }
    REQUIRE(progress.done);
    REQUIRE(h.run_until([&] { return h.ups == 1; }));
    const std::uint32_t length = limits::frame_bytes_max + 100;
    const Bytes header = {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
                          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length)};
    raw.non_blocking(false);
    asio::write(raw, asio::buffer(header));
    REQUIRE(h.run_until([&] { return h.downs.size() == 1; }));
    CHECK(h.downs[0].first == Reject::oversize_frame);
  }
}

TEST_CASE("link: a paused link takes no more bytes until resumed, and then delivers them in order") {
  REQUIRE(sodium_ready());
  Harness h;
  h.accept_one();
  auto client = h.dial(*h.client_key, h.server_key->public_key());
  REQUIRE(h.run_until([&] { return h.ups == 2; }));
  const auto& server = h.links[0] == client ? h.links[1] : h.links[0];
  server->pause_reading();
  CHECK(server->reading_paused());
  // The read under way when it was paused still completes...
  CHECK(client->send(Bytes{1}));
  REQUIRE(h.run_until([&] { return h.messages.size() == 1; }));
  // ...and after it nothing more is taken from the socket. (A window of
  // quiet is the only way to see that nothing arrives.)
  for (std::uint8_t i = 2; i <= 4; ++i) CHECK(client->send(Bytes{i}));
  h.io.restart();
  h.io.run_for(std::chrono::milliseconds(300));
  CHECK(h.messages.size() == 1);
  server->resume_reading();
  CHECK_FALSE(server->reading_paused());
  REQUIRE(h.run_until([&] { return h.messages.size() == 4; }));
  for (std::uint8_t i = 0; i < 4; ++i) CHECK(h.messages[i] == Bytes{static_cast<std::uint8_t>(i + 1)});
  server->resume_reading();  // a second resume starts no second read
  CHECK(client->send(Bytes{5}));
  REQUIRE(h.run_until([&] { return h.messages.size() == 5; }));
  CHECK(h.downs.empty());
}
