#pragma once
// placemeshd's configuration file (TOML; the fields are documented in
// deploy/examples/node.toml). Relative paths are taken from the folder of
// the config file, so a generated network can be moved as a whole.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "crdt/limits.hpp"
#include "crdt/origin.hpp"
#include "crdt/result.hpp"

namespace placemesh {

struct Endpoint {
  std::string host;  // an IP literal
  std::uint16_t port = 0;
  [[nodiscard]] std::string to_string() const;
};

// "127.0.0.1:8401" or "[::1]:8401".
[[nodiscard]] std::optional<Endpoint> parse_endpoint(std::string_view text);

struct Config {
  std::filesystem::path file;
  std::string node;  // this node's name in the roster
  std::filesystem::path key_file;
  std::filesystem::path roster_file;
  PublicKey admin_key{};
  std::filesystem::path data_dir;
  Endpoint gossip_listen;
  Endpoint api_listen{"127.0.0.1", 8400};
  std::filesystem::path tokens_file;
  std::string log_level = "info";   // trace, debug, info, warn, error
  std::size_t map_bytes = std::size_t{1} << 30;  // [store] map_size_mb
  std::size_t body_bytes_max = limits::api_body_bytes_default;  // [api] body_bytes_max
  // [api] operations_per_minute: changes per token (429 past it).
  std::int64_t operations_per_minute = limits::api_operations_per_minute_default;
  // [api] metrics: "open" (GET /metrics without a token, the default) or
  // "token" (a bearer token of any role). [api] metrics_listen: /metrics is
  // served (without a token) on that address only, not on api_listen.
  bool metrics_token = false;
  std::optional<Endpoint> metrics_listen;
  // [api] tls_certificate and tls_key (PEM): both or neither. With them the
  // API speaks HTTPS only (TLS 1.2 and up); plain HTTP on that port fails.
  std::filesystem::path tls_certificate;
  std::filesystem::path tls_key;
  [[nodiscard]] bool tls() const { return !tls_certificate.empty(); }
};


// Every bad field is named in one bad_config error, with the form expected.
[[nodiscard]] Result<Config> parse_config(std::string_view text, const std::filesystem::path& file);
[[nodiscard]] Result<Config> load_config(const std::filesystem::path& file);

}  // namespace placemesh
