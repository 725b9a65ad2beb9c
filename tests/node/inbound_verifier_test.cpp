// node/inbound_verifier: large messages from a peer have their records'
// signatures checked on a thread of their own; what it hands back keeps each
// link's order, vouches only for records whose signatures held, pauses a
// link that sends faster than it can check, and drops what a link that went
// down still had waiting. Real loopback links; the io thread is this one.
#include "node/inbound_verifier.hpp"

#include <asio/connect.hpp>
#include <catch2/catch.hpp>

#include "crdt/key.hpp"
#include "crdt/limits.hpp"
#include "net/link_codec.hpp"
#include "net/record_signing.hpp"
#include "tests/support/run_io.hpp"

using namespace placemesh;
using asio::ip::tcp;

namespace {

constexpr auto deadline = std::chrono::seconds(20);

struct Delivered {
  std::shared_ptr<net::Link> link;
  net::Bytes bytes;
  std::optional<InboundVerifier::Vouched> vouched;  // nullopt: taken at once
};

struct Fixture {
  asio::io_context io;
  tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::unique_ptr<SecretKey> a = SecretKey::generate().value();
  std::unique_ptr<SecretKey> b = SecretKey::generate().value();
  net::LinkEvents events;
  std::vector<std::shared_ptr<net::Link>> links;
  int ups = 0;
  std::vector<Delivered> delivered;
  bool taking = true;  // what the replica would say: does it take records from peers now?
  InboundVerifier verifier{io,
                           [this](const std::shared_ptr<net::Link>& link, const net::Bytes& bytes,
                                  const InboundVerifier::Vouched* vouched) {
                             delivered.push_back({link, bytes, vouched ? std::optional(*vouched) : std::nullopt});
                           },
                           [this] { return taking; }};

  Fixture() {
    events.up = [this](const std::shared_ptr<net::Link>&) { ++ups; };
    events.message = [](const std::shared_ptr<net::Link>&, net::Bytes) {};
    events.down = [](const std::shared_ptr<net::Link>&, std::optional<net::Reject>, const std::string&) {};
  }
  net::Membership membership() {
    return [](const PublicKey&) { return net::KeyStatus::member; };
  }
  // One link, up; the verifier is fed by hand, so the test decides what
  // arrives and when.
  std::shared_ptr<net::Link> link() {
    acceptor.async_accept([this](std::error_code ec, tcp::socket socket) {
      if (!ec)
        links.push_back(net::Link::start(std::move(socket),
                                         {net::Handshake::Role::responder, net::Signer::of(*a), "be", membership(),
                                          std::nullopt, std::chrono::milliseconds(5'000)},
                                         events));
    });
    tcp::socket socket(io);
    socket.connect(acceptor.local_endpoint());
    auto dialled = net::Link::start(std::move(socket),
                                    {net::Handshake::Role::initiator, net::Signer::of(*b), "be", membership(),
                                     a->public_key(), std::chrono::milliseconds(5'000)},
                                    events);
    links.push_back(dialled);
    const int want = ups + 2;
    REQUIRE(run_until([&] { return ups == want; }));
    return dialled;
  }
  bool run_until(const std::function<bool()>& done) { return test::run_io_until(io, deadline, done); }
  // `count` records of key a, each correctly signed unless listed in `broken`.
  [[nodiscard]] std::vector<Record> records(std::uint64_t first_seq, std::size_t count,
                                            const std::set<std::size_t>& broken = {}) const {
    std::vector<Record> out;
    for (std::size_t i = 0; i < count; ++i) {
      Record record{Origin{a->public_key(), 1}, first_seq + i, Hlc{1'795'000'000'000, 0}, occupied_key("CIM/men"),
                    Counter{first_seq + i, 0}, {}};
      sign_record(record, *a);
      if (broken.contains(i)) record.signature[5] ^= 0x10;
      out.push_back(std::move(record));
    }
    return out;
  }
};

net::Bytes push_of(const std::vector<Record>& records) { return encode_link_message(RecordsMessage{records}); }

}  // namespace

TEST_CASE("inbound_verifier: a small message with nothing waiting is delivered at once, unchecked") {
  REQUIRE(sodium_ready());
  Fixture f;
  const auto link = f.link();
  const auto small = push_of(f.records(1, 1));
  REQUIRE(small.size() < limits::inbound_check_bytes_min);
  f.verifier.message(link, small);
  REQUIRE(f.delivered.size() == 1);  // before the io thread ran again
  CHECK(f.delivered[0].bytes == small);
  CHECK_FALSE(f.delivered[0].vouched.has_value());
  CHECK(f.verifier.messages_checked() == 0);
}

TEST_CASE("inbound_verifier: a large message comes back with the prints of exactly the records whose signatures held") {
  REQUIRE(sodium_ready());
  Fixture f;
  const auto link = f.link();
  const auto records = f.records(1, 200, {3, 150});
  const auto large = push_of(records);
  REQUIRE(large.size() >= limits::inbound_check_bytes_min);
  f.verifier.message(link, large);
  CHECK(f.delivered.empty());  // it went to the worker
  REQUIRE(f.run_until([&] { return f.delivered.size() == 1; }));
  REQUIRE(f.delivered[0].vouched.has_value());
  const auto& vouched = *f.delivered[0].vouched;
  CHECK(vouched.size() == 198);
  for (std::size_t i = 0; i < records.size(); ++i) {
    INFO("record " << i);
    CHECK(vouched.contains(record_print(records[i])) == (i != 3 && i != 150));
  }
  CHECK(f.verifier.messages_checked() == 1);
  CHECK(f.verifier.records_checked() == 200);

  SECTION("an anti-entropy answer is checked the same way") {
    Delta delta;
    delta.origins.push_back(OriginDelta{Origin{f.a->public_key(), 1}, 0, 200, f.records(1, 200, {7}), {}});
    f.verifier.message(link, encode_link_message(DeltaMessage{delta}));
    REQUIRE(f.run_until([&] { return f.delivered.size() == 2; }));
    CHECK(f.delivered[1].vouched->size() == 199);
  }
  SECTION("bytes that do not decode go on with nothing vouched, for gossip to refuse and count") {
    f.verifier.message(link, net::Bytes(limits::inbound_check_bytes_min + 1, 0xAB));
    REQUIRE(f.run_until([&] { return f.delivered.size() == 2; }));
    CHECK(f.delivered[1].vouched->empty());
  }
}

TEST_CASE("inbound_verifier: while the node takes no records, a large message is passed on at once, unchecked") {
  // Short of room, the replica refuses a peer's message whole before any
  // signature is looked at: checking 1,000 signatures first would only
  // spend a core for the attacker filling the store.
  REQUIRE(sodium_ready());
  Fixture f;
  const auto link = f.link();
  f.taking = false;
  const auto large = push_of(f.records(1, 300));
  f.verifier.message(link, large);
  REQUIRE(f.delivered.size() == 1);
  CHECK_FALSE(f.delivered[0].vouched.has_value());
  CHECK(f.verifier.passed_unchecked() == 1);
  CHECK(f.verifier.records_checked() == 0);
  f.taking = true;
  f.verifier.message(link, large);
  REQUIRE(f.run_until([&] { return f.delivered.size() == 2; }));
  CHECK(f.delivered[1].vouched->size() == 300);
}

TEST_CASE("inbound_verifier: one link's messages are delivered in the order they came, small ones behind large ones") {
  REQUIRE(sodium_ready());
  Fixture f;
  const auto one = f.link();
  const auto two = f.link();
  std::vector<net::Bytes> sent;
  for (std::uint64_t i = 0; i < 6; ++i) {
    sent.push_back(push_of(f.records(1 + i * 1'000, i % 2 == 0 ? 300 : 1)));  // large, small, large, ...
    f.verifier.message(one, sent.back());
  }
  // Another link's small message is not held behind the first link's.
  const auto other = push_of(f.records(9'000, 1));
  f.verifier.message(two, other);
  REQUIRE(f.delivered.size() == 1);
  CHECK(f.delivered[0].link == two);
  REQUIRE(f.run_until([&] { return f.delivered.size() == 7; }));
  std::vector<net::Bytes> of_one;
  for (const auto& d : f.delivered)
    if (d.link == one) of_one.push_back(d.bytes);
  CHECK(of_one == sent);
  // The small ones went unchecked even though they waited.
  for (const auto& d : f.delivered) CHECK(d.vouched.has_value() == (d.bytes.size() >= limits::inbound_check_bytes_min));
  CHECK_FALSE(one->reading_paused());
}

TEST_CASE("inbound_verifier: small messages past a link's budget for one second are checked on the worker too") {
  // A member gone bad could send frames just under inbound_check_bytes_min:
  // each alone is small, together they would keep the io thread checking.
  REQUIRE(sodium_ready());
  Fixture f;
  const auto link = f.link();
  const auto other = f.link();
  std::vector<net::Bytes> sent;
  for (std::uint64_t i = 0; i < 40; ++i) sent.push_back(push_of(f.records(1 + i * 100, 10)));
  REQUIRE(sent[0].size() < limits::inbound_check_bytes_min);
  const std::size_t per_window = limits::inbound_at_once_bytes_per_s / sent[0].size();
  const std::size_t count = 3 * per_window + 1;
  for (std::size_t i = 0; i < count; ++i) f.verifier.message(link, sent[i % sent.size()]);
  // At most two windows' worth went at once (the loop may cross a second).
  const std::size_t at_once = f.delivered.size();
  CHECK(at_once >= per_window);
  CHECK(at_once <= 2 * per_window);
  // Another link has a budget of its own.
  f.verifier.message(other, sent[0]);
  CHECK(f.delivered.size() == at_once + 1);
  REQUIRE(f.run_until([&] { return f.delivered.size() == count + 1; }));
  std::size_t checked = 0, index = 0;
  for (const auto& d : f.delivered) {
    if (d.link != link) continue;
    CHECK(d.bytes == sent[index++ % sent.size()]);  // in the order they came
    if (d.vouched) {
      ++checked;
      CHECK(d.vouched->size() == 10);
    }
  }
  CHECK(checked >= count - 2 * per_window);
  CHECK(f.verifier.records_checked() == checked * 10);
}

TEST_CASE("inbound_verifier: a link with more than inbound_queue_bytes_max waiting is paused, and resumed once half is taken") {
  REQUIRE(sodium_ready());
  Fixture f;
  const auto link = f.link();
  // Bytes that do not decode cost the worker nothing to check, so the test
  // controls the pace: nothing comes back until the io thread runs.
  const std::size_t size = 1 << 20;
  const std::size_t count = limits::inbound_queue_bytes_max / size + 2;
  for (std::size_t i = 0; i < count; ++i) {
    f.verifier.message(link, net::Bytes(size, static_cast<std::uint8_t>(i)));
    CHECK(link->reading_paused() == ((i + 1) * size > limits::inbound_queue_bytes_max));
  }
  CHECK(f.verifier.pauses() == 1);
  // Half of it taken: reading again, long before the rest is delivered.
  REQUIRE(f.run_until([&] { return !link->reading_paused(); }));
  CHECK(f.delivered.size() >= count - limits::inbound_queue_bytes_max / 2 / size);
  REQUIRE(f.run_until([&] { return f.delivered.size() == count; }));
  for (std::size_t i = 0; i < count; ++i) CHECK(f.delivered[i].bytes.front() == static_cast<std::uint8_t>(i));
  CHECK(f.verifier.pauses() == 1);
}

TEST_CASE("inbound_verifier: what a link that went down still had waiting is dropped, also if it is heard again") {
  REQUIRE(sodium_ready());
  Fixture f;
  const auto gone = f.link();
  const auto kept = f.link();
  f.verifier.message(gone, push_of(f.records(1, 300)));  // on the worker
  f.verifier.message(gone, push_of(f.records(500, 1)));  // waiting behind it
  f.verifier.message(kept, push_of(f.records(1'000, 300)));
  f.verifier.forget(gone);
  // The same link object heard again before the old result came back: the
  // old result must not be taken for the new message's.
  const auto again = push_of(f.records(2'000, 300));
  f.verifier.message(gone, again);
  REQUIRE(f.run_until([&] { return f.delivered.size() == 2; }));
  f.io.restart();
  f.io.run_for(std::chrono::milliseconds(200));  // a window for anything late: nothing more may come
  REQUIRE(f.delivered.size() == 2);
  for (const auto& d : f.delivered) {
    if (d.link == gone) CHECK(d.bytes == again);
    else CHECK(d.link == kept);
  }
}
