#pragma once
// What an API resource sees of a request and what it answers, without
// RESTinio: the router (node/api/http_api.cpp, the one translation unit
// that includes RESTinio, a heavy header) matches the route, checks the
// token's presence, and turns a resource's Answer into the HTTP response.
// Each resource lives in its own file (board.cpp, status.cpp, pools.cpp,
// roster.cpp) and is declared in resources.hpp.
//
// Every JSON answer is written by json_answer() or error_answer() (through
// json_text: bytes from requests may be invalid UTF-8 and must never make
// an answer throw). The one exception is the operation receipt, built by
// hand once, in Replica::receipt (node/replica.cpp), because it is on the
// write path (BENCHMARKS.md).
//
// Thread contract: the io thread only, like the replica.

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/result.hpp"
#include "node/api/metrics.hpp"
#include "node/config.hpp"
#include "node/mesh.hpp"
#include "node/replica.hpp"
#include "node/tokens.hpp"

namespace placemesh::api {

struct Answer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type and Cache-Control
};

// One request, as a resource sees it.
struct Call {
  const Token* token = nullptr;  // null on the open routes (/healthz, /metrics, /)
  std::string_view body;
  std::map<std::string, std::string, std::less<>> params;  // from the route: ":centre" → "CIM"
};

using Reply = std::function<void(Answer)>;

// What the resources may use; owned by the router, alive while it serves.
struct Context {
  NodeCore& core;
  Replica& replica;  // the core's
  Mesh* mesh;  // null when the node runs without links (tests of the API alone)
  const Config& config;
  std::int64_t started_ms;
  const ApiCounters& counters;  // HTTP answers and refusals so far (for /metrics)
};

// The HTTP status for an error code (400, 401, 403, 404, 409, 503, 507, 500).
[[nodiscard]] int http_status(Code code);
[[nodiscard]] Answer json_answer(int status, const nlohmann::json& json);
// {"ok": false, "error": "<code>", "message": "...", "field": "..."} with
// the error's status; `status` overrides it (404 for an unknown path, 405,
// 413).
[[nodiscard]] Answer error_answer(const Error& error, std::string_view field = {}, std::optional<int> status = {});
[[nodiscard]] nlohmann::json optional_ms(std::optional<std::int64_t> ms);

}  // namespace placemesh::api
