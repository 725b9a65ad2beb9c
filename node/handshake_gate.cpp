#include "node/handshake_gate.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

#include "crdt/limits.hpp"

namespace placemesh {

namespace {
constexpr double host_rate = limits::handshake_rate_per_host_per_s;
constexpr double host_burst = limits::handshake_burst_per_host;
constexpr double prefix_rate = limits::handshake_rate_per_prefix_per_s;
constexpr double prefix_burst = limits::handshake_burst_per_prefix;
constexpr double total_rate = limits::handshake_rate_total_per_s;
constexpr double total_burst = limits::handshake_burst_total;

double refilled(double tokens, std::int64_t elapsed_ms, double per_second, double burst) {
  return std::min(burst, tokens + static_cast<double>(std::max<std::int64_t>(elapsed_ms, 0)) * per_second / 1000.0);
}
}  // namespace

HandshakeGate::Bucket& HandshakeGate::refill(Buckets& buckets, const std::string& id, std::int64_t now_ms,
                                             double per_second, double burst) {
  auto [it, fresh] = buckets.try_emplace(id, Bucket{burst, now_ms});
  Bucket& bucket = it->second;
  if (!fresh) refill(bucket, now_ms, per_second, burst);
  return bucket;
}

void HandshakeGate::refill(Bucket& bucket, std::int64_t now_ms, double per_second, double burst) {
  bucket.tokens = refilled(bucket.tokens, now_ms - bucket.at_ms, per_second, burst);
  bucket.at_ms = now_ms;
}

void HandshakeGate::prune(Buckets& buckets, std::int64_t now_ms, double per_second, double burst) {
  std::erase_if(buckets, [&](const auto& entry) {
    return refilled(entry.second.tokens, now_ms - entry.second.at_ms, per_second, burst) >= burst;
  });
}

HandshakeGate::Verdict HandshakeGate::admit(const std::string& host, const std::string& prefix, std::int64_t now_ms,
                                            std::size_t open, std::size_t open_from_host) {
  if (hosts_.size() >= limits::handshake_buckets_max) prune(hosts_, now_ms, host_rate, host_burst);
  if (prefixes_.size() >= limits::handshake_buckets_max) prune(prefixes_, now_ms, prefix_rate, prefix_burst);
  const bool member = member_host(host);
  // Sources beyond the bucket tables (a sweep over a whole IPv6 range) are
  // refused until buckets drain; members' hosts never are.
  const bool room = member || (hosts_.size() < limits::handshake_buckets_max &&
                               prefixes_.size() < limits::handshake_buckets_max);
  if (!room) return Verdict::rate_limited;
  if (open_from_host >= limits::handshakes_per_host_max) return Verdict::slots_full;
  if (open >= limits::handshakes_max && !member) return Verdict::slots_full;
  // Every bucket the handshake counts against must have a token, and only
  // then is one taken from each: a refusal spends nothing. A member's host
  // shares its prefix, and the strangers' total, with nobody it should
  // suffer for.
  Bucket& from_host = refill(hosts_, host, now_ms, host_rate, host_burst);
  if (member) {
    if (from_host.tokens < 1.0) return Verdict::rate_limited;
    from_host.tokens -= 1.0;
    return Verdict::admit;
  }
  Bucket& from_prefix = refill(prefixes_, prefix, now_ms, prefix_rate, prefix_burst);
  refill(total_, now_ms, total_rate, total_burst);
  if (from_host.tokens < 1.0 || from_prefix.tokens < 1.0 || total_.tokens < 1.0) return Verdict::rate_limited;
  from_host.tokens -= 1.0;
  from_prefix.tokens -= 1.0;
  total_.tokens -= 1.0;
  return Verdict::admit;
}

std::string HandshakeGate::plain_host(const std::string& host) {
  return host.starts_with("::ffff:") && host.find('.') != std::string::npos ? host.substr(7) : host;
}

std::string HandshakeGate::prefix_of(const std::string& text) {
  const std::string host = plain_host(text);
  if (host.find(':') == std::string::npos) {
    const auto last = host.rfind('.');
    return last == std::string::npos ? host : host.substr(0, last) + ".0/24";
  }
  // IPv6: the first four groups of the full address.
  unsigned char bytes[16] = {};
  if (inet_pton(AF_INET6, host.c_str(), bytes) != 1) return host;
  char out[64];
  std::snprintf(out, sizeof out, "%x:%x:%x:%x::/64", bytes[0] << 8 | bytes[1], bytes[2] << 8 | bytes[3],
                bytes[4] << 8 | bytes[5], bytes[6] << 8 | bytes[7]);
  return out;
}

}  // namespace placemesh
