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

[[nodiscard]] std::string metrics_text(const Replica& replica, std::int64_t started_ms,
                                       const std::optional<MeshStatus>& mesh,
                                       const std::map<unsigned, std::uint64_t>& http_answers);

}  // namespace placemesh
