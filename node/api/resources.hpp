#pragma once
// The API's resources (docs/api.md), one file each; node/api/http_api.cpp
// routes to them. Every handler has the same shape: it reads the Context
// and the Call and answers once through `reply`, at once or (operations)
// when the store has made the change durable.
//
//   board.cpp    GET /  (the dashboard page), GET /v1/board, and the board
//                document each GET /v1/events event carries
//   status.cpp   GET /healthz, GET /metrics, GET /v1/status, GET /v1/session
//   pools.cpp    POST /v1/pools/{centre}/{unit}/{operation}
//   roster.cpp   POST /v1/roster

#include <string>

#include "node/api/resource.hpp"

namespace placemesh::api {

using Handler = void (*)(const Context&, const Call&, const Reply&);

// board.cpp
[[nodiscard]] std::string board_document(const Replica& replica);
void get_dashboard(const Context& context, const Call& call, const Reply& reply);
void get_board(const Context& context, const Call& call, const Reply& reply);

// status.cpp
void get_healthz(const Context& context, const Call& call, const Reply& reply);
void get_metrics(const Context& context, const Call& call, const Reply& reply);
void get_status(const Context& context, const Call& call, const Reply& reply);
void get_session(const Context& context, const Call& call, const Reply& reply);

// pools.cpp
void post_operation(const Context& context, const Call& call, const Reply& reply);

// roster.cpp
void post_roster(const Context& context, const Call& call, const Reply& reply);

}  // namespace placemesh::api
