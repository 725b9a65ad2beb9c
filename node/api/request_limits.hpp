#pragma once
// What one caller may take of the API (issue 15), without RESTinio: the
// router (node/api/http_api.cpp) asks these before it serves.
//
//   OperationBudget  changes per token: a token bucket that holds one
//                    minute's worth ([api] operations_per_minute) and
//                    refills continuously; an empty bucket answers 429 with
//                    the seconds until the next change is allowed.
//   SourceSlots      connections, or event streams, open per source
//                    address; the one past the limit is refused.
//
// Both are bounded by what they count: the tokens of the tokens file, the
// addresses with something open. Thread contract: the io thread only.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace placemesh::api {

class OperationBudget {
 public:
  // Takes one change for `token`, whose budget is `per_minute`, at `now_ms`
  // (a steady clock). nullopt: go ahead; else the whole seconds to wait (at
  // least 1), for Retry-After.
  [[nodiscard]] std::optional<std::int64_t> take(std::string_view token, std::int64_t per_minute,
                                                 std::int64_t now_ms);

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t at_ms = 0;
  };
  std::map<std::string, Bucket, std::less<>> buckets_;
};

class SourceSlots {
 public:
  explicit SourceSlots(std::size_t per_source) : per_source_(per_source) {}
  // false when `source` already holds per_source slots (the caller counts it).
  [[nodiscard]] bool take(const std::string& source);
  void give_back(const std::string& source);
  [[nodiscard]] std::size_t held(const std::string& source) const;

 private:
  std::size_t per_source_;
  std::map<std::string, std::size_t, std::less<>> held_;
};

}  // namespace placemesh::api
