#pragma once
// Who gets a handshake at accept (issue 15: handshake cost and slots).
//
// A handshake costs the responder a key exchange and a signature before it
// knows who is calling, so an unauthenticated caller must not be able to
// make a node spend much on them, nor hold every slot so that members
// cannot link. At accept, before anything is read:
//   - each source host, and each /24 (IPv4) or /64 (IPv6) prefix, has a
//     token bucket of handshakes (limits::handshake_rate_*), and all hosts
//     that are not members' share one more, so the io thread's time on
//     unauthenticated key exchanges is bounded however many addresses call;
//     past any of them the connection is closed at once (handshake_rate),
//     and a refused connection spends no token;
//   - at most limits::handshakes_max handshakes run at once, at most
//     limits::handshakes_per_host_max from one host (handshake_slots_full);
//   - a host that the roster lists as a member's address keeps its own
//     handshakes_per_host_max slots when the shared ones are full, so a
//     flood from elsewhere cannot lock the members out.
//
// Pure logic: the caller passes the clock and the counts it holds, so it is
// tested without sockets (tests/node/handshake_gate_test.cpp).

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "crdt/limits.hpp"

namespace placemesh {

class HandshakeGate {
 public:
  enum class Verdict : std::uint8_t { admit, rate_limited, slots_full };

  // The hosts of the roster's member addresses (as the acceptor prints them).
  void set_member_hosts(std::set<std::string> hosts) { member_hosts_ = std::move(hosts); }
  [[nodiscard]] bool member_host(const std::string& host) const { return member_hosts_.contains(host); }

  // A connection from `host` (in `prefix`) at `now_ms`, while `open`
  // handshakes run, `open_from_host` of them from that host. Admitting one
  // spends a token of the host's and of the prefix's bucket.
  [[nodiscard]] Verdict admit(const std::string& host, const std::string& prefix, std::int64_t now_ms, std::size_t open,
                              std::size_t open_from_host);

  // The /24 of an IPv4 address, the /64 of an IPv6 one, as text.
  [[nodiscard]] static std::string prefix_of(const std::string& host);
  // An IPv4 peer of a dual-stack listener (::ffff:a.b.c.d) as a.b.c.d, the
  // way the roster writes it; any other host as it is.
  [[nodiscard]] static std::string plain_host(const std::string& host);

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t at_ms = 0;
  };
  using Buckets = std::map<std::string, Bucket>;
  // The bucket of `id` refilled to `now_ms` (a new one is full).
  static Bucket& refill(Buckets& buckets, const std::string& id, std::int64_t now_ms, double per_second, double burst);
  static void refill(Bucket& bucket, std::int64_t now_ms, double per_second, double burst);
  // Drops the buckets that are full again (they hold nothing a new one
  // would not), so a sweep over many sources leaves no trace.
  static void prune(Buckets& buckets, std::int64_t now_ms, double per_second, double burst);

  std::set<std::string> member_hosts_;
  Buckets hosts_, prefixes_;
  Bucket total_{limits::handshake_burst_total, 0};  // every host that is not a member's
};

}  // namespace placemesh
