#include "tools/lab/http_client.hpp"

#include <asio/connect.hpp>
#include <asio/read.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>
#include <charconv>

namespace placemesh::tools {

namespace {
constexpr std::size_t body_bytes_max = 64 << 20;  // a board of thousands of centres is far below this
}  // namespace

std::optional<Url> parse_url(std::string_view text) {
  constexpr std::string_view scheme = "http://";
  if (text.substr(0, scheme.size()) != scheme) return std::nullopt;
  text.remove_prefix(scheme.size());
  while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  unsigned port = 0;
  const auto port_text = text.substr(colon + 1);
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return std::nullopt;
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return Url{host, static_cast<std::uint16_t>(port)};
}

HttpClient::HttpClient(Url url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout), socket_(io_) {}

HttpClient::Outcome HttpClient::request(std::string_view method, std::string_view target, std::string_view body,
                                        std::string_view token) {
  // A kept-alive connection the node has since closed fails at once: try
  // once more on a fresh one (requests that change state carry an op_id, so
  // a repeat is harmless).
  const bool reused = socket_.is_open();
  auto outcome = attempt(method, target, body, token);
  if (!outcome.response && reused && outcome.failure.stale) outcome = attempt(method, target, body, token);
  return outcome;
}

HttpClient::Outcome HttpClient::attempt(std::string_view method, std::string_view target, std::string_view body,
                                        std::string_view token) {
  std::string request;
  request.reserve(256 + body.size());
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(url_.host);
  request.append("\r\nUser-Agent: placemeshctl\r\nAccept: application/json\r\n");
  if (!token.empty()) request.append("Authorization: Bearer ").append(token).append("\r\n");
  if (!body.empty() || method == "POST") {
    request.append("Content-Type: application/json\r\nContent-Length: ").append(std::to_string(body.size()));
    request.append("\r\n");
  }
  request.append("\r\n").append(body);

  Outcome outcome;
  std::error_code failed;
  bool finished = false;
  HttpResponse response;
  std::size_t header_end = 0;

  auto fail = [&](std::error_code ec, bool sent) {
    failed = ec;
    outcome.failure.sent = sent;
    finished = true;
  };
  auto read_body = [&](std::size_t length) {
    auto done = [&, length] {
      response.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
      finished = true;
    };
    if (buffer_.size() >= length) return done();
    asio::async_read(socket_, asio::dynamic_buffer(buffer_), asio::transfer_at_least(length - buffer_.size()),
                     [&, done](std::error_code ec, std::size_t) {
                       if (ec) return fail(ec, true);
                       done();
                     });
  };
  auto parse_head = [&] {
    std::string_view head(buffer_.data(), header_end);
    const auto line_end = head.find("\r\n");
    const auto status_line = head.substr(0, line_end);
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return fail(asio::error::invalid_argument, true);
    response.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    std::size_t at = line_end + 2;
    while (at < head.size()) {
      auto next = head.find("\r\n", at);
      if (next == std::string_view::npos) next = head.size();
      const auto line = head.substr(at, next - at);
      const auto colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        response.headers[name] = std::string(value);
      }
      at = next + 2;
    }
    buffer_.erase(0, header_end + 4);
    const auto length = response.headers.find("content-length");
    std::size_t body_length = 0;
    if (length != response.headers.end()) {
      const auto& text = length->second;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), body_length);
      if (error != std::errc{} || end != text.data() + text.size() || body_length > body_bytes_max)
        return fail(asio::error::invalid_argument, true);
    }
    read_body(body_length);
  };
  auto read_head = [&] {
    asio::async_read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n\r\n", [&](std::error_code ec, std::size_t n) {
      if (ec) return fail(ec, true);
      header_end = n - 4;
      parse_head();
    });
  };
  auto send = [&] {
    asio::async_write(socket_, asio::buffer(request), [&](std::error_code ec, std::size_t) {
      if (ec) return fail(ec, false);
      read_head();
    });
  };
  if (!socket_.is_open()) {
    buffer_.clear();
    std::error_code ec;
    const auto address = asio::ip::make_address(url_.host, ec);
    if (ec) {
      outcome.failure.message = "\"" + url_.host + "\" is not an IP address";
      return outcome;
    }
    socket_.async_connect(asio::ip::tcp::endpoint(address, url_.port), [&](std::error_code connect_ec) {
      if (connect_ec) return fail(connect_ec, false);
      std::error_code ignored;
      socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
      send();
    });
  } else {
    send();
  }
  io_.restart();
  io_.run_for(timeout_);
  if (!finished) {
    std::error_code ignored;
    socket_.close(ignored);
    io_.restart();
    io_.run();  // let the cancelled handlers finish; they touch locals
    outcome.failure = HttpFailure{"no answer within " + std::to_string(timeout_.count()) + " ms", true};
    return outcome;
  }
  if (failed) {
    std::error_code ignored;
    socket_.close(ignored);
    outcome.failure.message = failed.message();
    outcome.failure.stale = failed == asio::error::eof || failed == asio::error::connection_reset ||
                            failed == asio::error::broken_pipe;
    return outcome;
  }
  const auto connection = response.headers.find("connection");
  if (connection != response.headers.end() && connection->second == "close") {
    std::error_code ignored;
    socket_.close(ignored);
  }
  outcome.response = std::move(response);
  return outcome;
}

}  // namespace placemesh::tools
