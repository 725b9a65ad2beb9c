#include "crdt/limits.hpp"
#include "node/api/http_api.hpp"

#include <spdlog/spdlog.h>

#include <restinio/all.hpp>
#include <restinio/router/express.hpp>
#include <restinio/tls.hpp>

#include <chrono>
#include <set>
#include <variant>

#include "node/api/request_limits.hpp"
#include "node/api/resources.hpp"
#include "node/roster.hpp"

namespace placemesh {

namespace {

// What the API keeps of its callers, shared with RESTinio's connection
// hooks (which may outlive the API object: see ~HttpApi).
struct Callers {
  Callers()
      : connections(limits::api_connections_per_source_max),
        streams(limits::event_streams_per_source_max) {}
  ApiCounters counters;
  api::OperationBudget budget;
  api::SourceSlots connections;                        // per source address
  std::map<std::uint64_t, std::string> open;           // connection id → source, once accepted
  api::SourceSlots streams;                            // GET /v1/events per source address
  std::int64_t last_warning_ms = -limits::rejection_log_interval_ms;

  void refused(const char* why, const std::string& source) {
    ++counters.refused[why];
    const std::int64_t now = steady_ms();
    if (now - last_warning_ms < limits::rejection_log_interval_ms) return;  // once a minute, not per request
    last_warning_ms = now;
    spdlog::warn("API: refused a request from {} ({}); placemesh_http_refused_total counts them", source, why);
  }
  static std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

// A connection from a source that already holds its share is closed at
// accept (before any byte is read). Plain connections are counted from
// accept; TLS ones once their handshake is done (RESTinio announces them
// then), which the global limit and the read timeout bound meanwhile.
class SourceLimiter {
 public:
  explicit SourceLimiter(std::shared_ptr<Callers> callers) : callers_(std::move(callers)) {}
  restinio::ip_blocker::inspection_result_t inspect(const restinio::ip_blocker::incoming_info_t& info) noexcept {
    const std::string source = info.remote_endpoint().address().to_string();
    if (callers_->connections.held(source) < limits::api_connections_per_source_max)
      return restinio::ip_blocker::inspection_result_t::allow;
    callers_->refused("connections_per_source", source);
    return restinio::ip_blocker::inspection_result_t::deny;
  }
  void state_changed(const restinio::connection_state::notice_t& notice) noexcept {
    const auto cause = notice.cause();
    if (std::holds_alternative<restinio::connection_state::accepted_t>(cause)) {
      const std::string source = notice.remote_endpoint().address().to_string();
      if (callers_->connections.take(source)) callers_->open.emplace(notice.connection_id(), source);
    } else if (std::holds_alternative<restinio::connection_state::closed_t>(cause)) {
      const auto node = callers_->open.extract(notice.connection_id());
      if (!node.empty()) callers_->connections.give_back(node.mapped());
    }
  }

 private:
  std::shared_ptr<Callers> callers_;
};

struct PlainTraits : public restinio::default_single_thread_traits_t {
  static constexpr bool use_connection_count_limiter = true;
  using ip_blocker_t = SourceLimiter;
  using connection_state_listener_t = SourceLimiter;
};
struct TlsTraits : public restinio::single_thread_tls_traits_t<restinio::asio_timer_manager_t, restinio::null_logger_t> {
  static constexpr bool use_connection_count_limiter = true;
  using ip_blocker_t = SourceLimiter;
  using connection_state_listener_t = SourceLimiter;
};
using Request = restinio::request_handle_t;
using Router = restinio::router::express_router_t<>;


// One route: who may call it is the resource's business, except that every
// /v1 route needs a valid token (checked before routing, so an unknown /v1
// path or a wrong method also answers 401 to a caller without one).
struct Route {
  restinio::http_method_id_t method;
  const char* path;
  api::Handler handler;  // null: GET /v1/events, the stream the router itself serves
};

const std::vector<Route>& routes() {
  static const std::vector<Route> table = {
      {restinio::http_method_get(), "/", api::get_dashboard},
      {restinio::http_method_get(), "/index.html", api::get_dashboard},
      {restinio::http_method_get(), "/healthz", api::get_healthz},
      {restinio::http_method_get(), "/metrics", api::get_metrics},
      {restinio::http_method_get(), "/v1/board", api::get_board},
      {restinio::http_method_get(), "/v1/events", nullptr},
      {restinio::http_method_get(), "/v1/status", api::get_status},
      {restinio::http_method_get(), "/v1/session", api::get_session},
      {restinio::http_method_post(), "/v1/roster", api::post_roster},
      {restinio::http_method_post(), "/v1/pools/:centre/:unit/:operation", api::post_operation},
  };
  return table;
}

// ":centre" and the like in a route's path, without the colon.
std::vector<std::string> parameter_names(std::string_view path) {
  std::vector<std::string> names;
  for (std::size_t at = path.find(':'); at != std::string_view::npos; at = path.find(':', at + 1)) {
    const auto end = path.find('/', at);
    names.emplace_back(path.substr(at + 1, end == std::string_view::npos ? std::string_view::npos : end - at - 1));
  }
  return names;
}

restinio::http_status_line_t status_line(int status) {
  switch (status) {
    case 200: return restinio::status_ok();
    case 400: return restinio::status_bad_request();
    case 401: return restinio::status_unauthorized();
    case 403: return restinio::status_forbidden();
    case 404: return restinio::status_not_found();
    case 405: return restinio::status_method_not_allowed();
    case 409: return restinio::status_conflict();
    case 413: return restinio::status_payload_too_large();
    case 429: return restinio::http_status_line_t(restinio::http_status_code_t(429), "Too Many Requests");
    case 503: return restinio::status_service_unavailable();
    case 507: return restinio::status_insufficient_storage();
    case 500: return restinio::status_internal_server_error();
    default:  // a status a resource added without a name here: sent as it is
      return restinio::http_status_line_t(restinio::http_status_code_t(static_cast<std::uint16_t>(status)), "Status");
  }
}

// The TLS settings of DESIGN's operators: TLS 1.2 and up, the chain and key
// the config names.
Result<std::shared_ptr<asio::ssl::context>> tls_context(const Config& config) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  std::error_code ec;
  context->use_certificate_chain_file(config.tls_certificate.string(), ec);
  if (ec)
    return make_error(Code::bad_config, "api.tls_certificate = \"" + config.tls_certificate.string() +
                                            "\": cannot use it: " + ec.message() +
                                            " (expected a PEM certificate chain, the node's certificate first)");
  context->use_private_key_file(config.tls_key.string(), asio::ssl::context::pem, ec);
  if (ec)
    return make_error(Code::bad_config, "api.tls_key = \"" + config.tls_key.string() + "\": cannot use it: " +
                                            ec.message() + " (expected the PEM private key of api.tls_certificate)");
  return context;
}

}  // namespace

struct HttpApi::Impl {
  Impl(asio::io_context& io_context, NodeCore& core_, const Tokens& tokens_, std::int64_t started, Mesh* mesh_,
       const Config& config_)
      : io(io_context),
        core(core_),
        replica(core_.replica()),
        tokens(tokens_),
        started_ms(started),
        mesh(mesh_),
        config(config_) {}

  asio::io_context& io;
  NodeCore& core;
  Replica& replica;
  const Tokens& tokens;
  std::int64_t started_ms;
  Mesh* mesh;
  const Config& config;
  std::shared_ptr<Callers> callers = std::make_shared<Callers>();
  ApiCounters& counters = callers->counters;
  api::Context context{core, replica, mesh, config, started_ms, counters};
  // restinio::http_server_t of PlainTraits or TlsTraits: the API, and the
  // /metrics listener of [api] metrics_listen.
  std::vector<std::shared_ptr<void>> servers;
  std::vector<std::function<void()>> close_servers;
  std::unique_ptr<Router> router;
  std::uint16_t port = 0;
  std::uint16_t metrics_port = 0;
  const Token* token = nullptr;  // of the request being routed (set and used in one turn of the io loop)

  // One GET /v1/events stream. A client still writing the previous event
  // gets only the newest board once it is done (slow clients never queue).
  struct EventStream {
    restinio::response_builder_t<restinio::chunked_output_t> response;
    std::string source;  // the client's address
    bool writing = false;
    bool pending = false;
  };
  std::vector<std::shared_ptr<EventStream>> streams;
  std::unique_ptr<asio::steady_timer> events_timer;
  bool broadcast_posted = false;  // one broadcast per burst of changes
  std::uint64_t streamed_changes = 0;
  bool keepalive_running = false;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);  // false once closed: late callbacks do nothing

  void reply(const Request& request, api::Answer answer) {
    ++counters.answers[static_cast<unsigned>(answer.status)];
    auto response = request->create_response(status_line(answer.status));
    response.append_header(restinio::http_field::content_type, answer.content_type);
    response.append_header(restinio::http_field::cache_control, "no-store");
    for (auto& [name, value] : answer.headers) response.append_header(name, std::move(value));
    if (answer.status == 401) response.append_header(restinio::http_field::www_authenticate, "Bearer realm=\"placemesh\"");
    if (answer.status == 503) response.append_header(restinio::http_field::retry_after, "1");
    response.set_body(std::move(answer.body));
    response.done();
  }

  const Token* authenticate(const Request& request) const {
    const auto header = request->header().opt_value_of(restinio::http_field::authorization);
    if (!header) return nullptr;
    std::string_view value(header->data(), header->size());
    constexpr std::string_view scheme = "bearer ";  // the scheme is case-insensitive (RFC 9110)
    if (value.size() <= scheme.size()) return nullptr;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i]) return nullptr;
    return tokens.find(value.substr(scheme.size()));
  }

  void refuse_unauthorized(const Request& request) {
    reply(request, api::error_answer(make_error(Code::unauthorized, "send \"Authorization: Bearer <token>\" "
                                                                    "with a token from the node's tokens file")));
  }

  // Every request: the /v1 token rule, the budget of changes per token,
  // the /metrics rule of [api] metrics and metrics_listen, then the router.
  restinio::request_handling_status_t handle(Request request) {
    const std::string_view path(request->header().path().data(), request->header().path().size());
    token = nullptr;
    if (path == "/v1" || path.starts_with("/v1/")) {
      token = authenticate(request);
      if (token == nullptr) {
        refuse_unauthorized(request);
        return restinio::request_accepted();
      }
      if (request->header().method() == restinio::http_method_post()) {
        const std::int64_t per_minute =
            token->operations_per_minute > 0 ? token->operations_per_minute : config.operations_per_minute;
        if (const auto wait = callers->budget.take(token->name, per_minute, Callers::steady_ms())) {
          callers->refused("rate_limited", "token " + token->name);
          auto answer = api::error_answer(make_error(
              Code::rate_limited,
              "token \"" + token->name + "\" made " + std::to_string(per_minute) + " changes within a minute (" +
                  (token->operations_per_minute > 0 ? "its operations_per_minute in the tokens file"
                                                    : "[api] operations_per_minute") +
                  "); retry in " + std::to_string(*wait) + " s, with the same op_id"));
          answer.headers.emplace_back("Retry-After", std::to_string(*wait));
          reply(request, std::move(answer));
          return restinio::request_accepted();
        }
      }
    } else if (path == "/metrics") {
      if (config.metrics_listen) {
        reply(request, api::error_answer(make_error(Code::malformed, "/metrics is served on " +
                                                                         config.metrics_listen->to_string() +
                                                                         " ([api] metrics_listen)"),
                                         {}, 404));
        return restinio::request_accepted();
      }
      if (config.metrics_token && authenticate(request) == nullptr) {
        refuse_unauthorized(request);  // [api] metrics = "token"
        return restinio::request_accepted();
      }
    }
    return (*router)(std::move(request));
  }

  // The /metrics listener of [api] metrics_listen: that one path, no token.
  restinio::request_handling_status_t handle_metrics(const Request& request) {
    const std::string path(request->header().path());
    if (path != "/metrics")
      reply(request, api::error_answer(make_error(Code::malformed, "no such path: " + path +
                                                                       " (this address serves GET /metrics only)"),
                                       {}, 404));
    else if (request->header().method() != restinio::http_method_get())
      reply(request, api::error_answer(make_error(Code::malformed, "/metrics accepts GET only"), {}, 405));
    else
      api::get_metrics(context, api::Call{}, [this, request](api::Answer answer) { reply(request, std::move(answer)); });
    return restinio::request_accepted();
  }

  void build_router() {
    router = std::make_unique<Router>();
    std::map<std::string, std::vector<restinio::http_method_id_t>> methods;  // path → the methods it answers
    for (const Route& route : routes()) {
      methods[route.path].push_back(route.method);
      router->add_handler(route.method, route.path, [this, &route](const Request& request, auto params) {
        if (route.handler == nullptr) {
          open_stream(request);
          return restinio::request_accepted();
        }
        api::Call call;
        call.token = token;
        call.body = request->body();
        for (const std::string& name : parameter_names(route.path))
          if (params.has(name)) call.params.emplace(name, std::string(params[name]));
        route.handler(context, call, [this, request](api::Answer answer) { reply(request, std::move(answer)); });
        return restinio::request_accepted();
      });
    }
    // One rule for a wrong method on any route: 405 with Allow.
    for (const auto& [path, allowed] : methods) {
      restinio::router::dynamic_none_of_methods_matcher_t others;
      std::string allow;
      for (const auto& method : allowed) {
        others.add(method);
        allow += (allow.empty() ? "" : ", ") + std::string(method.c_str());
      }
      router->add_handler(std::move(others), path, [this, allow](const Request& request, auto) {
        const std::string asked(request->header().path());
        auto answer = api::error_answer(make_error(Code::malformed, asked + " accepts " + allow + " only"), {}, 405);
        answer.headers.emplace_back("Allow", allow);
        reply(request, std::move(answer));
        return restinio::request_accepted();
      });
    }
    router->non_matched_request_handler([this](const Request& request) {
      const std::string path(request->header().path());
      reply(request, api::error_answer(make_error(Code::malformed, "no such path: " + path + " (see docs/api.md)"),
                                       {}, 404));
      return restinio::request_accepted();
    });
  }

  // GET /v1/events: server-sent events, `event: board` with the whole board
  // (as GET /v1/board) at once and after every change (one event for the
  // changes of one turn of the io loop); a comment line every 15 s keeps
  // proxies from closing it.
  void open_stream(const Request& request) {
    if (streams.size() >= limits::event_streams_max)
      return reply(request,
                   api::error_answer(make_error(Code::busy, std::to_string(streams.size()) + " event streams are open")));
    const std::string source = request->remote_endpoint().address().to_string();
    if (!callers->streams.take(source)) {
      callers->refused("streams_per_source", source);
      return reply(request, api::error_answer(make_error(Code::busy, std::to_string(limits::event_streams_per_source_max) +
                                                                         " event streams are open from " + source +
                                                                         "; close one first")));
    }
    ++counters.answers[200];
    auto response = request->create_response<restinio::chunked_output_t>();
    response.append_header(restinio::http_field::content_type, "text/event-stream; charset=utf-8");
    response.append_header(restinio::http_field::cache_control, "no-store");
    response.append_header("X-Accel-Buffering", "no");
    auto stream = std::make_shared<EventStream>(EventStream{std::move(response), source});
    streams.push_back(stream);
    if (streams.size() == 1) streamed_changes = replica.changes();
    send(stream, "retry: 2000\n\n" + board_event());
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

  [[nodiscard]] std::string board_event() const {
    return "event: board\ndata: " + api::board_document(replica) + "\n\n";
  }

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
        drop(stream);  // the client went away
        return;
      }
      if (stream->pending) {
        stream->pending = false;
        send(stream, board_event());
      }
    });
  }

  void drop(const std::shared_ptr<EventStream>& stream) {
    const auto before = streams.size();
    std::erase(streams, stream);
    if (streams.size() < before) callers->streams.give_back(stream->source);
  }

  void drop_streams() {
    for (const auto& stream : streams) callers->streams.give_back(stream->source);
    streams.clear();
  }

  void keepalive() {
    events_timer->expires_after(std::chrono::milliseconds(limits::event_keepalive_ms));
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

  // Listens with the traits of plain HTTP or of HTTPS, at `at`, the API or
  // (`metrics_only`) the /metrics listener.
  template <typename Traits>
  Status listen(restinio::server_settings_t<Traits> settings, const Endpoint& at, bool metrics_only,
                std::uint16_t& bound_port, std::string_view field) {
    const auto limiter = std::make_shared<SourceLimiter>(callers);
    settings.port(at.port)
        .address(at.host)
        .request_handler([this, metrics_only](Request request) {
          return metrics_only ? handle_metrics(request) : handle(std::move(request));
        })
        .ip_blocker(limiter)
        .connection_state_listener(limiter)
        .read_next_http_message_timelimit(std::chrono::milliseconds(limits::api_read_timeout_ms))
        .write_http_response_timelimit(std::chrono::milliseconds(limits::api_write_timeout_ms))
        .handle_request_timeout(std::chrono::milliseconds(limits::api_handle_timeout_ms))
        .max_parallel_connections(limits::api_connections_max)
        .incoming_http_msg_limits(restinio::incoming_http_msg_limits_t{}.max_body_size(
            config.body_bytes_max * limits::api_hard_body_factor))
        .socket_options_setter([](auto& options) { options.set_option(asio::ip::tcp::no_delay(true)); })
        .acceptor_post_bind_hook([&bound_port](asio::ip::tcp::acceptor& acceptor) {
          std::error_code ec;
          bound_port = acceptor.local_endpoint(ec).port();
        });
    using Server = restinio::http_server_t<Traits>;
    try {
      auto typed = std::make_shared<Server>(restinio::external_io_context(io), std::move(settings));
      typed->open_sync();
      close_servers.emplace_back([raw = typed.get()] { raw->close_sync(); });
      servers.push_back(std::move(typed));
    } catch (const std::exception& error) {
      return make_error(Code::bad_config,
                        std::string(field) + " = \"" + at.to_string() + "\": cannot listen: " + error.what());
    }
    return Ok{};
  }
};

Result<std::unique_ptr<HttpApi>> HttpApi::start(asio::io_context& io, const Config& config, NodeCore& core,
                                                 const Tokens& tokens, std::int64_t started_ms, Mesh* mesh) {
  auto impl = std::make_unique<Impl>(io, core, tokens, started_ms, mesh, config);
  impl->build_router();
  Status listening = Ok{};
  if (config.tls()) {
    auto context = tls_context(config);
    if (!context) return context.error();
    restinio::server_settings_t<TlsTraits> settings;
    settings.tls_context(std::move(context).value());
    listening = impl->listen(std::move(settings), config.api_listen, false, impl->port, "api_listen");
  } else {
    listening = impl->listen(restinio::server_settings_t<PlainTraits>{}, config.api_listen, false, impl->port,
                             "api_listen");
  }
  if (!listening) return listening.error();
  if (config.metrics_listen) {  // plain HTTP: for a scraper on a private address
    listening = impl->listen(restinio::server_settings_t<PlainTraits>{}, *config.metrics_listen, true,
                             impl->metrics_port, "api.metrics_listen");
    if (!listening) return listening.error();
  }
  return std::unique_ptr<HttpApi>(new HttpApi(std::move(impl)));
}

Status HttpApi::check_tls(const Config& config) {
  if (!config.tls()) return Ok{};
  auto context = tls_context(config);
  if (!context) return context.error();
  return Ok{};
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
  if (impl_ && !impl_->servers.empty()) asio::post(impl_->io, [servers = std::move(impl_->servers)] {});
}

void HttpApi::close() {
  if (impl_) {
    *impl_->alive = false;
    if (impl_->events_timer) impl_->events_timer->cancel();
    impl_->drop_streams();
    for (const auto& close_server : impl_->close_servers) {
      try {
        close_server();  // stops accepting; a no-op the second time
      } catch (const std::exception& error) {
        spdlog::warn("closing the API: {}", error.what());
      }
    }
  }
}

void HttpApi::changed() {
  if (impl_ && *impl_->alive) impl_->changed();
}

std::uint16_t HttpApi::port() const { return impl_->port; }

std::uint16_t HttpApi::metrics_port() const { return impl_->metrics_port; }

bool HttpApi::tls() const { return impl_->config.tls(); }

}  // namespace placemesh
