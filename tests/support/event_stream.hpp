#pragma once
// A client of GET /v1/events for tests: a plain socket that sends the
// request and reads server-sent events (chunked transfer encoding) with a
// deadline.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tools/lab/bench_common.hpp"

namespace placemesh::test {

class EventStream {
 public:
  // `source`: the loopback address it connects from (127.0.0.1 by default;
  // the node limits streams per source address).
  EventStream(std::uint16_t port, const std::string& token, const char* source = "127.0.0.1")
      : fd_(bench::connect_tcp("127.0.0.1", port, source)) {
    connected_ = fd_ >= 0;
    const std::string request = "GET /v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + token + "\r\n\r\n";
    connected_ = connected_ && ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
                                   static_cast<ssize_t>(request.size());
  }
  ~EventStream() {
    if (fd_ >= 0) ::close(fd_);
  }
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  [[nodiscard]] int fd() const { return fd_; }
  // What is readable now, without waiting (for callers that poll many).
  std::optional<nlohmann::json> next_board_now() { return next_board(std::chrono::milliseconds(0)); }
  [[nodiscard]] const std::string& head() const { return head_; }

  // The next `event: board` (its data parsed), or nullopt at the deadline or
  // when the stream ends.
  std::optional<nlohmann::json> next_board(std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      if (auto board = take_board()) return board;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      pollfd ready{fd_, POLLIN, 0};
      if (::poll(&ready, 1, static_cast<int>(std::max<std::int64_t>(0, left.count()))) <= 0) return std::nullopt;
      char chunk[16384];
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return std::nullopt;
      raw_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // Waits for a board where `check` holds.
  template <typename Check>
  bool board_where(Check check, std::chrono::milliseconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      auto board = next_board(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
      if (!board) return false;
      if (check(*board)) return true;
    }
    return false;
  }

 private:
  // Removes the HTTP head and chunk framing from raw_ into text_, then takes
  // one complete board event from text_.
  std::optional<nlohmann::json> take_board() {
    if (head_.empty()) {
      const auto end = raw_.find("\r\n\r\n");
      if (end == std::string::npos) return std::nullopt;
      head_ = raw_.substr(0, end + 4);
      raw_.erase(0, end + 4);
    }
    for (;;) {  // chunks: hex size CRLF data CRLF
      const auto line = raw_.find("\r\n");
      if (line == std::string::npos) break;
      const std::size_t size = std::stoul(raw_.substr(0, line), nullptr, 16);
      if (raw_.size() < line + 2 + size + 2) break;
      text_.append(raw_, line + 2, size);
      raw_.erase(0, line + 2 + size + 2);
    }
    for (;;) {
      const auto end = text_.find("\n\n");
      if (end == std::string::npos) return std::nullopt;
      const std::string block = text_.substr(0, end);
      text_.erase(0, end + 2);
      const auto data = block.find("data: ");
      if (block.find("event: board") != std::string::npos && data != std::string::npos)
        return nlohmann::json::parse(block.substr(data + 6));
    }
  }

  int fd_;
  bool connected_ = false;
  std::string raw_, text_, head_;
};

// occupied of pool "CENTRE/unit" in a board, -1 if absent.
inline std::int64_t occupied_in(const nlohmann::json& board, const std::string& id) {
  for (const auto& centre : board["centres"])
    for (const auto& pool : centre["pools"])
      if (pool["id"] == id) return pool["occupied"].get<std::int64_t>();
  return -1;
}

}  // namespace placemesh::test
