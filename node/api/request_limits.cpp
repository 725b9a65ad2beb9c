#include "node/api/request_limits.hpp"

#include <algorithm>
#include <cmath>

#include "crdt/assert.hpp"

namespace placemesh::api {

std::optional<std::int64_t> OperationBudget::take(std::string_view token, std::int64_t per_minute,
                                                  std::int64_t now_ms) {
  const auto capacity = static_cast<double>(per_minute);
  auto found = buckets_.find(token);
  if (found == buckets_.end()) found = buckets_.emplace(std::string(token), Bucket{capacity, now_ms}).first;
  Bucket& bucket = found->second;
  const double per_ms = capacity / 60'000.0;
  if (now_ms > bucket.at_ms) {
    bucket.tokens = std::min(capacity, bucket.tokens + static_cast<double>(now_ms - bucket.at_ms) * per_ms);
    bucket.at_ms = now_ms;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return std::nullopt;
  }
  const double wait_ms = (1.0 - bucket.tokens) / per_ms;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait_ms / 1'000.0)));
}

bool SourceSlots::take(const std::string& source) {
  auto& held = held_[source];
  if (held >= per_source_) {
    if (held == 0) held_.erase(source);
    return false;
  }
  ++held;
  return true;
}

void SourceSlots::give_back(const std::string& source) {
  const auto found = held_.find(source);
  PM_ASSERT(found != held_.end() && found->second > 0, source);
  if (--found->second == 0) held_.erase(found);
}

std::size_t SourceSlots::held(const std::string& source) const {
  const auto found = held_.find(source);
  return found == held_.end() ? 0 : found->second;
}

}  // namespace placemesh::api
