// node/handshake_gate: who gets a handshake at accept (issue 15), without
// sockets: the clock and the open handshakes are passed in.
#include "node/handshake_gate.hpp"

#include <catch2/catch.hpp>
#include <cstdio>

#include "crdt/limits.hpp"

using namespace placemesh;
using Verdict = HandshakeGate::Verdict;

namespace {
// Connections from `host` at `now_ms` (none held open) until one is refused; how many got in.
int admitted_in_a_row(HandshakeGate& gate, const std::string& host, std::int64_t now_ms, int most = 1'000) {
  int admitted = 0;
  while (admitted < most && gate.admit(host, HandshakeGate::prefix_of(host), now_ms, 0, 0) == Verdict::admit) ++admitted;
  return admitted;
}
}  // namespace

TEST_CASE("handshake_gate: one host gets its burst of handshakes, then its rate, and is refused in between") {
  HandshakeGate gate;
  const auto burst = static_cast<int>(limits::handshake_burst_per_host);
  CHECK(admitted_in_a_row(gate, "10.0.0.5", 0) == burst);
  CHECK(gate.admit("10.0.0.5", "10.0.0.0/24", 0, 0, 0) == Verdict::rate_limited);
  // A second later: the rate's worth again, no more.
  CHECK(admitted_in_a_row(gate, "10.0.0.5", 1'000) == static_cast<int>(limits::handshake_rate_per_host_per_s));
  // Another host of another prefix is not held back by it.
  CHECK(gate.admit("10.9.0.1", "10.9.0.0/24", 1'000, 0, 0) == Verdict::admit);
}

TEST_CASE("handshake_gate: many hosts of one /24 share the prefix's bucket") {
  HandshakeGate gate;
  int admitted = 0;
  for (int host = 1; host <= 200; ++host) admitted += admitted_in_a_row(gate, "192.0.2." + std::to_string(host), 0, 2);
  CHECK(admitted == static_cast<int>(limits::handshake_burst_per_prefix));
  CHECK(HandshakeGate::prefix_of("192.0.2.77") == "192.0.2.0/24");
  CHECK(HandshakeGate::prefix_of("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64");
  CHECK(HandshakeGate::prefix_of("fd00::1") == "fd00:0:0:0::/64");
  CHECK(HandshakeGate::prefix_of("::ffff:1.2.3.4") == "1.2.3.0/24");
}

TEST_CASE("handshake_gate: with every shared slot held, a member's host still gets a handshake, a stranger does not") {
  HandshakeGate gate;
  gate.set_member_hosts({"127.0.0.1"});
  const std::size_t full = limits::handshakes_max;
  CHECK(gate.admit("127.0.0.9", "127.0.0.0/24", 0, full, 0) == Verdict::slots_full);
  CHECK(gate.admit("127.0.0.1", "127.0.0.0/24", 0, full, 0) == Verdict::admit);
  // Even a member's host has at most handshakes_per_host_max at once.
  CHECK(gate.admit("127.0.0.1", "127.0.0.0/24", 0, full, limits::handshakes_per_host_max) == Verdict::slots_full);
  // A flood from its /24 does not use up the member's prefix share.
  for (int host = 2; host < 250; ++host) (void)admitted_in_a_row(gate, "127.0.0." + std::to_string(host), 0, 3);
  CHECK(gate.admit("127.0.0.1", "127.0.0.0/24", 0, 0, 0) == Verdict::admit);
}

TEST_CASE("handshake_gate: a sweep over more sources than the tables hold leaves them bounded, and members still in") {
  HandshakeGate gate;
  gate.set_member_hosts({"10.1.0.1"});
  int refused = 0;
  for (std::size_t i = 0; i < 3 * limits::handshake_buckets_max; ++i) {
    char host_text[40];
    std::snprintf(host_text, sizeof host_text, "fd00:%zx:%zx::1", i >> 16, i & 0xffff);
    const std::string host = host_text;  // each in a /64 of its own
    refused += gate.admit(host, HandshakeGate::prefix_of(host), 0, 0, 0) != Verdict::admit;
  }
  CHECK(refused > 0);
  CHECK(gate.admit("10.1.0.1", "10.1.0.0/24", 0, 0, 0) == Verdict::admit);
  // Once the buckets are full again they are dropped, and new sources get in.
  CHECK(gate.admit("fd00:ffff::1", "fd00:ffff:0:0::/64", 60'000, 0, 0) == Verdict::admit);
}

TEST_CASE("handshake_gate: strangers together get at most the node's total, members' hosts are not counted") {
  HandshakeGate gate;
  gate.set_member_hosts({"10.1.0.1"});
  int admitted = 0;
  for (int i = 0; i < 1'000; ++i) {  // each from a /24 of its own
    const std::string host = "10." + std::to_string(100 + i / 250) + "." + std::to_string(i % 250) + ".1";
    admitted += gate.admit(host, HandshakeGate::prefix_of(host), 0, 0, 0) == Verdict::admit;
  }
  CHECK(admitted == static_cast<int>(limits::handshake_burst_total));
  CHECK(gate.admit("10.1.0.1", "10.1.0.0/24", 0, 0, 0) == Verdict::admit);
  // A second later the total's rate again, whoever asks.
  admitted = 0;
  for (int i = 0; i < 1'000; ++i) {
    const std::string host = "10." + std::to_string(110 + i / 250) + "." + std::to_string(i % 250) + ".1";
    admitted += gate.admit(host, HandshakeGate::prefix_of(host), 1'000, 0, 0) == Verdict::admit;
  }
  CHECK(admitted == static_cast<int>(limits::handshake_rate_total_per_s));
}

TEST_CASE("handshake_gate: a connection refused by its prefix spends none of its host's tokens") {
  HandshakeGate gate;
  // Other hosts of the /24 use up the prefix's bucket.
  for (int host = 2; host < 2 + static_cast<int>(limits::handshake_burst_per_prefix); ++host)
    REQUIRE(gate.admit("192.0.2." + std::to_string(host), "192.0.2.0/24", 0, 0, 0) == Verdict::admit);
  for (int i = 0; i < 50; ++i) CHECK(gate.admit("192.0.2.1", "192.0.2.0/24", 0, 0, 0) == Verdict::rate_limited);
  // Half a second later the prefix has 20 tokens again and the host its
  // whole burst (had the refusals spent its tokens, it would have 5).
  CHECK(admitted_in_a_row(gate, "192.0.2.1", 500) == static_cast<int>(limits::handshake_burst_per_host));
}
