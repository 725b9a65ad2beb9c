#include "node/config.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "node/roster.hpp"
#include "node/toml_fields.hpp"

namespace placemesh {

std::string Endpoint::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    in6_addr address{};
    if (inet_pton(AF_INET6, host.c_str(), &address) != 1) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    in_addr address{};
    if (inet_pton(AF_INET, host.c_str(), &address) != 1) return std::nullopt;
  }
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) return std::nullopt;
  return Endpoint{host, static_cast<std::uint16_t>(port)};
}

Result<Config> parse_config(std::string_view text, const std::filesystem::path& file) {
  auto parsed = toml_fields::parse(text, file.string(), Code::bad_config);
  if (!parsed) return parsed.error();
  const toml::table& root = parsed.value();
  toml_fields::Fields fields("config " + file.string());
  fields.unknown_keys(root,
                      {"node", "key_file", "roster_file", "admin_public_key", "data_dir", "gossip_listen",
                       "api_listen", "tokens_file", "log_level", "store", "api"},
                      "");
  Config config;
  config.file = file;
  const auto base = file.parent_path();
  auto path_in = [&](const toml::table& table, std::string_view key, std::string_view where, bool required,
                     std::string_view expected) {
    auto value = fields.string(table, key, where, required, expected);
    if (!value) return std::filesystem::path{};
    if (value->empty()) {
      fields.problem(where, std::string("empty; expected ") + std::string(expected));
      return std::filesystem::path{};
    }
    std::filesystem::path path(*value);
    return path.is_absolute() ? path : base / path;
  };
  auto path_field = [&](std::string_view key, std::string_view expected) {
    return path_in(root, key, key, true, expected);
  };
  config.node = fields.string(root, "node", "node", true, "this node's name in the roster, such as \"CIM\"")
                    .value_or("");
  config.key_file = path_field("key_file", "the path of the node key (placemeshctl keygen)");
  config.roster_file = path_field("roster_file", "the path of the roster");
  config.data_dir = path_field("data_dir", "the folder of the node's store");
  config.tokens_file = path_field("tokens_file", "the path of the API tokens file");
  if (auto key = fields.string(root, "admin_public_key", "admin_public_key", true, "64 hex digits")) {
    if (auto parsed_key = public_key_from_hex(*key)) config.admin_key = *parsed_key;
    else fields.problem("admin_public_key", "expected 64 hex digits (the admin's Ed25519 public key)");
  }
  auto endpoint_field = [&](std::string_view key, bool required, Endpoint& out) {
    auto value = fields.string(root, key, key, required, "host:port such as 127.0.0.1:7401");
    if (!value) return;
    if (auto endpoint = parse_endpoint(*value)) out = *endpoint;
    else fields.problem(key, "\"" + *value + "\": expected an IP address and port such as 127.0.0.1:7401");
  };
  endpoint_field("gossip_listen", true, config.gossip_listen);
  endpoint_field("api_listen", false, config.api_listen);
  if (auto level = fields.string(root, "log_level", "log_level", false, "trace, debug, info, warn or error")) {
    if (*level == "trace" || *level == "debug" || *level == "info" || *level == "warn" || *level == "error")
      config.log_level = *level;
    else
      fields.problem("log_level", "\"" + *level + "\": expected trace, debug, info, warn or error");
  }
  if (const auto* store = root.get("store")) {
    if (const auto* table = store->as_table()) {
      fields.unknown_keys(*table, {"map_size_mb"}, "store.");
      if (auto mb = fields.integer(*table, "map_size_mb", "store.map_size_mb", false, 1, limits::store_map_mb_max))
        config.map_bytes = static_cast<std::size_t>(*mb) << 20;
    } else {
      fields.problem("store", "expected a [store] table");
    }
  }
  if (const auto* api = root.get("api")) {
    if (const auto* table = api->as_table()) {
      fields.unknown_keys(*table,
                          {"body_bytes_max", "tls_certificate", "tls_key", "operations_per_minute", "metrics",
                           "metrics_listen"},
                          "api.");
      if (auto bytes = fields.integer(*table, "body_bytes_max", "api.body_bytes_max", false, limits::api_body_bytes_min,
                                    limits::api_body_bytes_max))
        config.body_bytes_max = static_cast<std::size_t>(*bytes);
      if (auto rate = fields.integer(*table, "operations_per_minute", "api.operations_per_minute", false, 1,
                                     limits::api_operations_per_minute_max))
        config.operations_per_minute = *rate;
      if (auto metrics = fields.string(*table, "metrics", "api.metrics", false, "\"open\" or \"token\"")) {
        if (*metrics == "open" || *metrics == "token") config.metrics_token = *metrics == "token";
        else fields.problem("api.metrics", "\"" + *metrics + "\": expected \"open\" (no token) or \"token\"");
      }
      if (auto listen = fields.string(*table, "metrics_listen", "api.metrics_listen", false,
                                      "host:port such as 127.0.0.1:9401")) {
        if (auto endpoint = parse_endpoint(*listen)) config.metrics_listen = *endpoint;
        else
          fields.problem("api.metrics_listen",
                         "\"" + *listen + "\": expected an IP address and port such as 127.0.0.1:9401");
      }
      config.tls_certificate = path_in(*table, "tls_certificate", "api.tls_certificate", false,
                                       "the path of the API's certificate chain (PEM)");
      config.tls_key = path_in(*table, "tls_key", "api.tls_key", false, "the path of the API's private key (PEM)");
      if (config.tls_certificate.empty() != config.tls_key.empty())
        fields.problem(config.tls_key.empty() ? "api.tls_key" : "api.tls_certificate",
                       "missing; HTTPS needs both api.tls_certificate and api.tls_key");
    } else {
      fields.problem("api", "expected an [api] table");
    }
  }
  if (config.metrics_listen) {
    const std::string at = config.metrics_listen->to_string();
    if (at == config.api_listen.to_string() || at == config.gossip_listen.to_string())
      fields.problem("api.metrics_listen", "\"" + at + "\" is also " +
                                               (at == config.api_listen.to_string() ? "api_listen" : "gossip_listen") +
                                               "; give /metrics an address of its own, or leave it out");
  }
  if (auto status = fields.result(Code::bad_config); !status) return status.error();
  return config;
}

Result<Config> load_config(const std::filesystem::path& file) {
  auto text = read_small_file(file, limits::config_bytes_max, Code::bad_config);
  if (!text) return text.error();
  return parse_config(text.value(), file);
}

}  // namespace placemesh
