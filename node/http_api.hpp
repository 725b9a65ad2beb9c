#pragma once
// The node's HTTP API (DESIGN §5; reference in docs/api.md), served by
// RESTinio on the node's own asio::io_context, on the io thread. This is the
// only translation unit that includes RESTinio (it is a heavy header).
//
//   GET  /healthz                                 no token
//   GET  /metrics                                 no token (Prometheus text format)
//   GET  /v1/status, /v1/board                    viewer and up
//   POST /v1/pools/{centre}/{unit}/{operation}    operator of that centre, admin
//   POST /v1/roster                               admin: install a newer signed roster
//
// Lifetime: close() stops accepting; connections still open may send more
// requests, which the replica refuses once stop() was called. The
// io_context must run until the replica has no operation in flight before
// either is destroyed.

#include <asio/io_context.hpp>
#include <memory>

#include "node/config.hpp"
#include "node/mesh.hpp"
#include "node/replica.hpp"
#include "node/tokens.hpp"

namespace placemesh {

class HttpApi {
 public:
  // Binds and listens at once (bad_config naming api_listen when it cannot).
  // `mesh` may be null (no links: tests of the API alone).
  [[nodiscard]] static Result<std::unique_ptr<HttpApi>> start(asio::io_context& io, const Config& config,
                                                              Replica& replica, const Tokens& tokens,
                                                              std::int64_t started_ms, Mesh* mesh);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  void close();
  [[nodiscard]] std::uint16_t port() const;

  struct Impl;

 private:
  explicit HttpApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace placemesh
