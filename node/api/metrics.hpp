#pragma once
// GET /metrics: the node's figures in the Prometheus text exposition format
// (version 0.0.4), names prefixed placemesh_ and documented in docs/api.md.
// Per peer: link state, contact, traffic, full resyncs and lag per origin
// node (seqs and seconds); refused links and frames by reason; the store's
// size, map use and commit-time histogram; operations; HTTP answers by status.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "node/mesh.hpp"
#include "node/replica.hpp"

namespace placemesh {

// What the HTTP API counted of itself.
struct ApiCounters {
  std::map<unsigned, std::uint64_t> answers;  // by status code
  // Requests and connections refused before a resource saw them, by why:
  // rate_limited (429), connections_per_source (closed at accept),
  // streams_per_source (503 on GET /v1/events).
  std::map<std::string, std::uint64_t> refused;
};

[[nodiscard]] std::string metrics_text(const Replica& replica, std::int64_t started_ms,
                                       const std::optional<MeshStatus>& mesh, const ApiCounters& api);

}  // namespace placemesh
