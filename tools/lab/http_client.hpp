#pragma once
// A small blocking HTTP/1.1 client for the benchmarks and the tests: one
// keep-alive connection, a deadline per request, no TLS, no allocation
// beyond the body, so that what the benchmarks time is the node. Responses
// must carry Content-Length, as the node's do. The product (placemeshctl)
// uses tools/api_client.hpp, on libcurl.
//
// Not thread-safe: one client per thread.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace placemesh::tools {

struct Url {
  std::string host;
  std::uint16_t port = 0;
};
// "http://127.0.0.1:8401" (a trailing slash is fine); nullopt otherwise.
[[nodiscard]] std::optional<Url> parse_url(std::string_view text);

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct HttpFailure {
  std::string message;  // "connection refused", "timed out after 5000 ms"
  bool sent = false;    // the request may have reached the node
  bool stale = false;   // the node closed the connection (reconnecting may help)
};

class HttpClient {
 public:
  HttpClient(Url url, std::chrono::milliseconds timeout);

  // On failure the connection is dropped; the next request reconnects.
  struct Outcome {
    std::optional<HttpResponse> response;
    HttpFailure failure;
  };
  [[nodiscard]] Outcome request(std::string_view method, std::string_view target, std::string_view body = {},
                                std::string_view token = {});

 private:
  [[nodiscard]] Outcome attempt(std::string_view method, std::string_view target, std::string_view body,
                                std::string_view token);
  Url url_;
  std::chrono::milliseconds timeout_;
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::string buffer_;  // bytes read past the last response
};

}  // namespace placemesh::tools
