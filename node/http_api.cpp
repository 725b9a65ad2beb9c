#include "node/http_api.hpp"

#include <spdlog/spdlog.h>

#include "node/json_text.hpp"
#include <restinio/all.hpp>

#include "crdt/key.hpp"
#include "crdt/limits.hpp"
#include "node/board_json.hpp"
#include "node/dashboard_html.hpp"
#include "node/metrics.hpp"

namespace placemesh {

namespace {

struct ApiTraits : public restinio::default_single_thread_traits_t {
  static constexpr bool use_connection_count_limiter = true;
};
using Server = restinio::http_server_t<ApiTraits>;
using Request = restinio::request_handle_t;

constexpr std::size_t connections_max = 1'024;
// Live-update streams (GET /v1/events) open at once; each is a connection.
constexpr std::size_t event_streams_max = 512;
constexpr auto events_keepalive = std::chrono::seconds(15);
// RESTinio drops a connection whose body passes this (no answer possible);
// up to it, a body over body_bytes_max gets a 413 with a JSON error.
constexpr std::size_t hard_body_bytes_factor = 4;

restinio::http_status_line_t status_line(Code code) {
  switch (code) {
    case Code::malformed:
    case Code::count_out_of_range:
    case Code::total_overflow:
    case Code::invalid_key:
    case Code::invalid_value:
    case Code::invalid_record:
    case Code::bad_config:
    case Code::bad_signature: return restinio::status_bad_request();
    case Code::nothing_to_remove:
    case Code::op_id_reused: return restinio::status_conflict();
    case Code::unauthorized: return restinio::status_unauthorized();
    case Code::forbidden:
    case Code::not_owner: return restinio::status_forbidden();
    case Code::unknown_pool: return restinio::status_not_found();
    case Code::busy: return restinio::status_service_unavailable();
    case Code::store_full: return restinio::status_insufficient_storage();
    default: return restinio::status_internal_server_error();
  }
}


std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const auto slash = path.find('/');
    if (slash != 0) parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

struct HttpApi::Impl {
  asio::io_context& io;
  Replica& replica;
  const Tokens& tokens;
  std::size_t body_bytes_max;
  std::int64_t started_ms;
  Mesh* mesh;
  const Config& config;
  std::unique_ptr<Server> server;
  std::uint16_t port = 0;
  std::uint64_t requests = 0;

  std::map<unsigned, std::uint64_t> answers;  // by status code, for /metrics

  // One GET /v1/events stream. A client still writing the previous event
  // gets only the newest board once it is done (slow clients never queue).
  struct EventStream {
    restinio::response_builder_t<restinio::chunked_output_t> response;
    bool writing = false;
    bool pending = false;
  };
  std::vector<std::shared_ptr<EventStream>> streams;
  std::unique_ptr<asio::steady_timer> events_timer;
  bool broadcast_posted = false;  // one broadcast per burst of changes
  std::uint64_t streamed_changes = 0;
  bool keepalive_running = false;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);  // false once closed: late callbacks do nothing

  void reply(const Request& request, restinio::http_status_line_t status, std::string body,
             bool replayed = false, const char* content_type = "application/json") {
    ++answers[static_cast<unsigned>(status.status_code().raw_code())];
    auto response = request->create_response(std::move(status));
    response.append_header(restinio::http_field::content_type, content_type);
    response.append_header(restinio::http_field::cache_control, "no-store");
    if (replayed) response.append_header("X-Placemesh-Replay", "true");
    if (response.header().status_code() == restinio::status_code::unauthorized)
      response.append_header(restinio::http_field::www_authenticate, "Bearer realm=\"placemesh\"");
    if (response.header().status_code() == restinio::status_code::service_unavailable)
      response.append_header(restinio::http_field::retry_after, "1");
    response.set_body(std::move(body));
    response.done();
  }

  void fail(const Request& request, const Error& error, std::string_view field = {}) {
    reply(request, status_line(error.code), error_json(error, field));
  }

  const Token* authenticate(const Request& request) {
    const auto header = request->header().opt_value_of(restinio::http_field::authorization);
    if (!header) return nullptr;
    std::string_view value(header->data(), header->size());
    constexpr std::string_view scheme = "bearer ";  // the scheme is case-insensitive (RFC 9110)
    if (value.size() <= scheme.size()) return nullptr;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i]) return nullptr;
    return tokens.find(value.substr(scheme.size()));
  }

  restinio::request_handling_status_t handle(const Request& request) {
    ++requests;
    const auto method = request->header().method();
    const std::string_view path(request->header().path().data(), request->header().path().size());
    const auto parts = split_path(path);
    if (method == restinio::http_method_get() && path == "/healthz") {
      const auto status = replica.status();
      reply(request, status.state == "ok" ? restinio::status_ok() : restinio::status_service_unavailable(),
            json_text({{"ok", status.state == "ok"}, {"node", status.node}, {"state", status.state}}));
      return restinio::request_accepted();
    }
    if (method == restinio::http_method_get() && path == "/metrics") {
      // Open like /healthz, as Prometheus scrapers expect: operational
      // figures only, no occupancy.
      reply(request, restinio::status_ok(),
            metrics_text(replica, started_ms, mesh ? std::optional(mesh->status()) : std::nullopt, answers), false,
            "text/plain; version=0.0.4; charset=utf-8");
      return restinio::request_accepted();
    }
    if (method == restinio::http_method_get() && (path == "/" || path == "/index.html")) {
      auto response = request->create_response();
      ++answers[200];
      response.append_header(restinio::http_field::content_type, "text/html; charset=utf-8");
      response.append_header(restinio::http_field::cache_control, "no-store");
      // Everything the page needs is in it: no request leaves for another host.
      response.append_header("Content-Security-Policy",
                             "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                             "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                             "frame-ancestors 'none'");
      response.append_header("X-Content-Type-Options", "nosniff");
      response.append_header("Referrer-Policy", "no-referrer");
      response.set_body(std::string(dashboard_html));
      response.done();
      return restinio::request_accepted();
    }
    if (parts.empty() || parts[0] != "v1") {
      reply(request, restinio::status_not_found(),
            error_json(make_error(Code::malformed, "no such path: " + std::string(path) + " (see docs/api.md)")));
      return restinio::request_accepted();
    }
    const Token* token = authenticate(request);
    if (token == nullptr) {
      fail(request, make_error(Code::unauthorized, "send \"Authorization: Bearer <token>\" with a token from the "
                                                   "node's tokens file"));
      return restinio::request_accepted();
    }
    if (parts.size() == 2 && (parts[1] == "events" || parts[1] == "session")) {
      if (method != restinio::http_method_get()) {
        reply(request, restinio::status_method_not_allowed(),
              error_json(make_error(Code::malformed, std::string(path) + " accepts GET only")));
      } else if (parts[1] == "events") {
        open_stream(request);
      } else {
        reply(request, restinio::status_ok(),
              json_text({{"token", token->name},
                         {"role", token_role_name(token->role)},
                         {"centre", token->centre},
                         {"node", replica.name()},
                         {"node_role", role_name(replica.role())}}));
      }
      return restinio::request_accepted();
    }
    if (parts.size() == 2 && (parts[1] == "board" || parts[1] == "status")) {
      if (method != restinio::http_method_get()) {
        reply(request, restinio::status_method_not_allowed(),
              error_json(make_error(Code::malformed, std::string(path) + " accepts GET only")));
      } else {
        reply(request, restinio::status_ok(),
              parts[1] == "board" ? board_json(replica)
                                  : status_json(replica, started_ms, mesh ? std::optional(mesh->status()) : std::nullopt));
      }
      return restinio::request_accepted();
    }
    if (parts.size() == 2 && parts[1] == "roster") {
      if (method != restinio::http_method_post()) {
        reply(request, restinio::status_method_not_allowed(),
              error_json(make_error(Code::malformed, "/v1/roster accepts POST only")));
      } else {
        install_roster(request, *token);
      }
      return restinio::request_accepted();
    }
    if (parts.size() == 5 && parts[1] == "pools") {
      if (method != restinio::http_method_post()) {
        reply(request, restinio::status_method_not_allowed(),
              error_json(make_error(Code::malformed, std::string(path) + " accepts POST only")));
        return restinio::request_accepted();
      }
      operation(request, *token, parts);
      return restinio::request_accepted();
    }
    reply(request, restinio::status_not_found(),
          error_json(make_error(Code::malformed, "no such path: " + std::string(path) + " (see docs/api.md)")));
    return restinio::request_accepted();
  }

  // GET /v1/events: server-sent events, `event: board` with the whole board
  // (as GET /v1/board) at once and after every change (one event for the
  // changes of one turn of the io loop); a comment line every 15 s keeps
  // proxies from closing it.
  void open_stream(const Request& request) {
    if (streams.size() >= event_streams_max)
      return fail(request, make_error(Code::busy, std::to_string(streams.size()) + " event streams are open"));
    ++answers[200];
    auto response = request->create_response<restinio::chunked_output_t>();
    response.append_header(restinio::http_field::content_type, "text/event-stream; charset=utf-8");
    response.append_header(restinio::http_field::cache_control, "no-store");
    response.append_header("X-Accel-Buffering", "no");
    auto stream = std::make_shared<EventStream>(EventStream{std::move(response)});
    streams.push_back(stream);
    send(stream, "retry: 2000\n\n" + board_event());
    if (!replica.on_changed) {
      streamed_changes = replica.changes();
      replica.on_changed = [this] { changed(); };
    }
    if (!keepalive_running) {
      if (!events_timer) events_timer = std::make_unique<asio::steady_timer>(io);
      keepalive_running = true;
      keepalive();
    }
  }

  // After a change: one broadcast once the io loop is done with the current
  // handler (a delta of many records is one event).
  void changed() {
    if (broadcast_posted || streams.empty()) return;
    broadcast_posted = true;
    asio::post(io, [this, alive_flag = alive] {
      if (!*alive_flag) return;
      broadcast_posted = false;
      if (replica.changes() == streamed_changes) return;
      streamed_changes = replica.changes();
      const std::string event = board_event();
      auto open = streams;  // send() may drop a stream
      for (const auto& stream : open) send(stream, event);
    });
  }

  [[nodiscard]] std::string board_event() const { return "event: board\ndata: " + board_json(replica) + "\n\n"; }

  void send(const std::shared_ptr<EventStream>& stream, std::string text) {
    if (stream->writing) {
      stream->pending = true;
      return;
    }
    stream->writing = true;
    stream->response.append_chunk(std::move(text));
    stream->response.flush([this, alive_flag = alive, stream](const asio::error_code& ec) {
      if (!*alive_flag) return;
      stream->writing = false;
      if (ec) {
        std::erase(streams, stream);  // the client went away
        return;
      }
      if (stream->pending) {
        stream->pending = false;
        send(stream, board_event());
      }
    });
  }

  void keepalive() {
    events_timer->expires_after(events_keepalive);
    events_timer->async_wait([this, alive_flag = alive](std::error_code ec) {
      if (ec || !*alive_flag) return;
      if (streams.empty()) {
        keepalive_running = false;
        return;
      }
      auto open = streams;
      for (const auto& stream : open) send(stream, ": keepalive\n\n");
      keepalive();
    });
  }

  // POST /v1/roster: the body is a signed roster (node/ROSTER.md).
  void install_roster(const Request& request, const Token& token) {
    if (token.role != TokenRole::admin)
      return fail(request, make_error(Code::forbidden, "installing a roster needs an admin token"));
    auto installed = replica.install_roster(std::string(request->body()), config.admin_key);
    if (!installed) return fail(request, installed.error());
    if (installed.value() && mesh != nullptr) mesh->roster_changed();
    reply(request, restinio::status_ok(),
          json_text({{"ok", true},
                     {"installed", installed.value()},
                     {"version", replica.roster().version},
                     {"message", installed.value() ? "installed; passing it on to the peers"
                                                   : "not newer than the roster this node runs; nothing changed"}}));
  }

  void operation(const Request& request, const Token& token, const std::vector<std::string_view>& parts) {
    OperationRequest op;
    op.actor = token.name;
    op.pool = std::string(parts[2]) + "/" + std::string(parts[3]);
    auto kind = operation_from_name(parts[4]);
    if (!kind) {
      reply(request, restinio::status_not_found(),
            error_json(make_error(Code::malformed, "unknown operation \"" + std::string(parts[4]) +
                                                       "\"; expected admit, release, block, unblock or operational")));
      return;
    }
    op.kind = *kind;
    const auto pool = replica.roster().find_pool(op.pool);
    if (!pool)
      return fail(request, make_error(Code::unknown_pool, "\"" + op.pool + "\" is not in roster version " +
                                                              std::to_string(replica.roster().version)));
    if (token.role == TokenRole::viewer || token.role == TokenRole::dispatcher)
      return fail(request, make_error(Code::forbidden, "token \"" + token.name + "\" is a " +
                                                           std::string(token_role_name(token.role)) +
                                                           " token; recording changes needs an operator or admin token"));
    if (token.role == TokenRole::operator_role && token.centre != parts[2])
      return fail(request, make_error(Code::forbidden, "token \"" + token.name + "\" is an operator of " +
                                                           token.centre + ", not of " + std::string(parts[2])));
    if (request->body().size() > body_bytes_max) {
      reply(request, restinio::status_payload_too_large(),
            error_json(make_error(Code::malformed, "the body has " + std::to_string(request->body().size()) +
                                                       " bytes; the limit is " + std::to_string(body_bytes_max))));
      return;
    }
    if (auto error = parse_body(request->body(), op); error) return fail(request, error->first, error->second);
    if (op.op_id.empty()) op.op_id = new_op_id();
    replica.execute(std::move(op), [this, request](OperationOutcome outcome) {
      if (outcome.error) return fail(request, *outcome.error);
      reply(request, restinio::status_ok(), std::move(outcome.receipt), outcome.replayed);
    });
  }

  // Fills op from the JSON body; the error names the field at fault.
  static std::optional<std::pair<Error, std::string>> parse_body(std::string_view body, OperationRequest& op) {
    auto bad = [](std::string field, std::string what) {
      return std::optional(std::pair{make_error(Code::malformed, field + ": " + what), field});
    };
    nlohmann::json json;
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      json = nlohmann::json::object();  // an empty body means "all defaults"
    } else {
      json = nlohmann::json::parse(body, nullptr, false);
      if (json.is_discarded()) return bad("body", "not valid JSON");
    }
    if (!json.is_object()) return bad("body", "expected a JSON object");
    const bool counts = op.kind != OperationKind::operational;
    const bool reasons = op.kind != OperationKind::admit && op.kind != OperationKind::operational;
    for (const auto& [name, value] : json.items()) {
      if (name == "op_id") {
        if (!value.is_string()) return bad("op_id", "expected a string");
        op.op_id = value.get<std::string>();
        if (!is_valid_op_id(op.op_id)) return bad("op_id", "expected 1 to 64 of A-Z a-z 0-9 - _ . :");
      } else if (name == "count" && counts) {
        if (!value.is_number_integer()) return bad("count", "expected a whole number");
        op.count = value.get<std::int64_t>();
      } else if (name == "value" && !counts) {
        if (!value.is_number_integer()) return bad("value", "expected a whole number");
        op.value = value.get<std::int64_t>();
      } else if (name == "reason" && reasons) {
        if (!value.is_string()) return bad("reason", "expected a string");
        op.reason = value.get<std::string>();
        if (op.reason.size() > 200) return bad("reason", "at most 200 bytes");
      } else {
        return bad(name, "not a field of " + std::string(operation_name(op.kind)));
      }
    }
    if (!counts && !json.contains("value")) return bad("value", "missing; expected the operational capacity");
    if (counts && (op.count < 1 || op.count > limits::operation_count_max))
      return bad("count", std::to_string(op.count) + " is out of range; expected 1.." +
                              std::to_string(limits::operation_count_max));
    if (op.kind == OperationKind::release && op.reason.empty())
      return bad("reason", "missing; a release needs a reason (such as \"removed\", \"transferred\")");
    if ((op.kind == OperationKind::block || op.kind == OperationKind::unblock) && !is_blocked_reason(op.reason))
      return bad("reason", "\"" + op.reason + "\": expected maintenance, damage, staffing, medical or other");
    return std::nullopt;
  }
};

Result<std::unique_ptr<HttpApi>> HttpApi::start(asio::io_context& io, const Config& config, Replica& replica,
                                                 const Tokens& tokens, std::int64_t started_ms, Mesh* mesh) {
  auto impl = std::make_unique<Impl>(
      Impl{io, replica, tokens, config.body_bytes_max, started_ms, mesh, config, nullptr, 0, 0, {}, {}, {}, false, 0, false,
           std::make_shared<bool>(true)});
  Impl* self = impl.get();
  restinio::server_settings_t<ApiTraits> settings;
  settings.port(config.api_listen.port)
      .address(config.api_listen.host)
      .request_handler([self](Request request) { return self->handle(request); })
      .read_next_http_message_timelimit(std::chrono::seconds(15))
      .write_http_response_timelimit(std::chrono::seconds(15))
      .handle_request_timeout(std::chrono::seconds(60))
      .max_parallel_connections(connections_max)
      .incoming_http_msg_limits(
          restinio::incoming_http_msg_limits_t{}.max_body_size(
              std::max(config.body_bytes_max * hard_body_bytes_factor, roster_bytes_max)))
      .socket_options_setter([](auto& options) { options.set_option(asio::ip::tcp::no_delay(true)); })
      .acceptor_post_bind_hook([self](asio::ip::tcp::acceptor& acceptor) {
        std::error_code ec;
        self->port = acceptor.local_endpoint(ec).port();
      });
  try {
    impl->server = std::make_unique<Server>(restinio::external_io_context(io), std::move(settings));
    impl->server->open_sync();
  } catch (const std::exception& error) {
    return make_error(Code::bad_config,
                      "api_listen = \"" + config.api_listen.to_string() + "\": cannot listen: " + error.what());
  }
  return std::unique_ptr<HttpApi>(new HttpApi(std::move(impl)));
}

HttpApi::HttpApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpApi::~HttpApi() {
  close();
  // RESTinio's connection limiter lives in the server, and every connection
  // holds a raw pointer to it, used when the connection is destroyed. A
  // keep-alive connection still waiting for a request when the node stops
  // is destroyed only by the io_context's destructor (found by the fault
  // campaign under ASan: a heap-use-after-free at every stop with clients
  // connected). asio's destructor destroys abandoned socket operations
  // before the handlers still queued, so the server is queued there and
  // goes last. placemeshd has stopped the io_context before this runs, so
  // the handler never runs early.
  if (impl_ && impl_->server) asio::post(impl_->io, [server = std::shared_ptr<Server>(std::move(impl_->server))] {});
}

void HttpApi::close() {
  if (impl_) {
    *impl_->alive = false;
    impl_->replica.on_changed = nullptr;
    if (impl_->events_timer) impl_->events_timer->cancel();
    impl_->streams.clear();
  }
  if (impl_ && impl_->server) {
    try {
      impl_->server->close_sync();  // stops accepting; a no-op the second time
    } catch (const std::exception& error) {
      spdlog::warn("closing the API: {}", error.what());
    }
  }
}

std::uint16_t HttpApi::port() const { return impl_->port; }

}  // namespace placemesh
