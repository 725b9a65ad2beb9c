#pragma once
// The JSON documents of the API (docs/api.md): the board, the node's status
// and error bodies. Field names are a contract with the dashboard, the CLI
// and scripts: add fields freely, never rename.

#include <string>

#include "crdt/result.hpp"
#include "node/mesh.hpp"
#include "node/replica.hpp"

namespace placemesh {

[[nodiscard]] std::string board_json(const Replica& replica);
[[nodiscard]] std::string status_json(const Replica& replica, std::int64_t started_ms,
                                      const std::optional<MeshStatus>& mesh);
// {"ok": false, "error": "<code>", "message": "...", "field": "..."}
[[nodiscard]] std::string error_json(const Error& error, std::string_view field = {});

}  // namespace placemesh
