#pragma once
// placemeshctl's client for a node's HTTP API, on libcurl (Debian
// libcurl4-openssl-dev): http:// and https:// URLs, certificates checked
// against the system's CAs or a file given with --cacert, the usual proxy
// variables (https_proxy, no_proxy, …), a deadline per request, and one
// keep-alive connection reused across requests (board --watch).
//
// The tests and benchmarks keep their own minimal client (tools/lab/
// http_client.hpp) where a measurement needs it; the product uses this one.
//
// Not thread-safe: one client per thread.

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace placemesh::tools {

struct ApiResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

struct ApiFailure {
  std::string message;  // what libcurl said, e.g. "Couldn't connect to server: Connection refused"
  bool sent = false;    // the request may have reached the node (a retry must reuse the op_id)
};

struct ApiClientOptions {
  std::string base_url;        // "http://127.0.0.1:8401" or "https://cim.example:8401" (a trailing slash is fine)
  std::chrono::milliseconds timeout{10'000};
  std::string ca_file;         // PEM bundle to trust instead of the system's CAs ("" = system)
};

class ApiClient {
 public:
  explicit ApiClient(ApiClientOptions options);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // "" when the base URL is usable; else why not ("expected http:// or https://").
  [[nodiscard]] static std::string check_url(std::string_view url);

  struct Outcome {
    std::optional<ApiResponse> response;
    ApiFailure failure;
  };
  [[nodiscard]] Outcome request(std::string_view method, std::string_view target, std::string_view body = {},
                                std::string_view token = {});

 private:
  struct Handle;
  ApiClientOptions options_;
  std::unique_ptr<Handle> handle_;
};

}  // namespace placemesh::tools
