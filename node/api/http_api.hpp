#pragma once
// The node's HTTP API (DESIGN §5; reference in docs/api.md), served by
// RESTinio on the node's own asio::io_context, on the io thread, over plain
// HTTP or, with [api] tls_certificate and tls_key, HTTPS (TLS 1.2 and up).
// http_api.cpp is the only translation unit that includes RESTinio (a heavy
// header): it holds the route table (RESTinio's express router), the token
// rule for /v1, one 405-with-Allow rule for every route, the event streams
// and the TLS settings; the resources are in node/api/resources.hpp.
//
//   GET  /, /healthz, /metrics                    no token
//   GET  /v1/status, /v1/board, /v1/events, /v1/session    viewer and up
//   POST /v1/pools/{centre}/{unit}/{operation}    operator of that centre, admin
//   POST /v1/roster                               admin: install a newer signed roster
//
// Before a resource sees a request: at most 128 connections and 64 event
// streams per source address, a budget of changes (POSTs) per token
// ([api] operations_per_minute; 429 with Retry-After past it), a hard body
// limit of 4 × [api] body_bytes_max. /metrics may need a token ([api]
// metrics = "token") or live on its own address ([api] metrics_listen).
//
// Lifetime: close() stops accepting; connections still open may send more
// requests, which the replica refuses once stop() was called. The
// io_context must run until the replica has no operation in flight before
// either is destroyed.

#include <asio/io_context.hpp>
#include <memory>

#include "node/config.hpp"
#include "node/mesh.hpp"
#include "node/node_core.hpp"
#include "node/tokens.hpp"

namespace placemesh {

class HttpApi {
 public:
  // Binds and listens at once (bad_config naming api_listen when it cannot).
  // `mesh` may be null (no links: tests of the API alone).
  [[nodiscard]] static Result<std::unique_ptr<HttpApi>> start(asio::io_context& io, const Config& config,
                                                              NodeCore& core, const Tokens& tokens,
                                                              std::int64_t started_ms, Mesh* mesh);
  // The certificate and key of [api] load (Ok when there are none): what
  // start() would refuse, for placemeshd --check.
  [[nodiscard]] static Status check_tls(const Config& config);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  void close();
  // The node's state changed (NodeEvents::changed): the event streams send
  // the new board once the io loop is done with the current handler.
  void changed();
  [[nodiscard]] std::uint16_t port() const;
  // The port of [api] metrics_listen; 0 without it.
  [[nodiscard]] std::uint16_t metrics_port() const;
  [[nodiscard]] bool tls() const;  // HTTPS (config [api] tls_certificate, tls_key)

  struct Impl;

 private:
  explicit HttpApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace placemesh
