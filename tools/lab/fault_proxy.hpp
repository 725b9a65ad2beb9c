#pragma once
// A userspace TCP relay for tests and benchmarks: it stands between a node's
// advertised gossip address and its real one, and does to the byte stream
// what this machine's kernel (no netem qdisc) cannot: delay it, hold it
// back, duplicate a chunk, or cut every connection; and it keeps the first
// bytes a client sent, for a replay. Loopback, or an address inside a
// network namespace the test made (construct it on a thread that has
// entered that namespace: its own thread then lives there too).
//
// It runs its own io_context on its own thread; every setter may be called
// from any thread and applies to the connections already open.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <algorithm>
#include <set>
#include <thread>

namespace placemesh::tools {

class FaultProxy {
 public:
  // Listens on 127.0.0.1:listen_port and relays each connection to
  // 127.0.0.1:target_port. Throws std::system_error when it cannot listen.
  FaultProxy(std::uint16_t listen_port, std::uint16_t target_port);
  // The same on another IPv4 address (both ends on it).
  FaultProxy(const std::string& host, std::uint16_t listen_port, std::uint16_t target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Each chunk is forwarded this long after it arrived (order is kept).
  void set_delay(std::chrono::milliseconds delay) { set_delay(delay, delay); }
  // Each chunk is held for a delay drawn from [low, high], but never
  // overtakes the chunk before it on its connection (TCP keeps order):
  // messages overtake each other across connections instead.
  void set_delay(std::chrono::milliseconds low, std::chrono::milliseconds high) {
    delay_low_ms_ = low.count();
    delay_high_ms_ = std::max(low, high).count();
  }
  // While held, nothing is forwarded; releasing sends what was held back.
  void hold(bool held) { held_ = held; }
  // The next chunk read (either direction) is forwarded twice: a secure
  // stream must refuse the replay and the nodes must recover.
  void duplicate_next() { duplicate_ = true; }
  // Closes every connection and refuses new ones until restore().
  void cut();
  void restore() { cut_ = false; }

  // The first bytes (at most capture_bytes_max) the client side sent on the
  // most recent connection that sent any: a session to replay.
  static constexpr std::size_t capture_bytes_max = 8 << 10;
  [[nodiscard]] std::vector<std::uint8_t> captured() const;

  [[nodiscard]] std::uint64_t connections() const { return connections_; }
  [[nodiscard]] std::uint64_t bytes() const { return bytes_; }

  struct Connection;

 private:
  void accept();

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::endpoint target_;
  std::set<std::shared_ptr<Connection>> open_;
  std::atomic<std::int64_t> delay_low_ms_{0}, delay_high_ms_{0};
  mutable std::mutex captured_mutex_;
  std::vector<std::uint8_t> captured_;
  const Connection* capture_owner_ = nullptr;  // compared only, never dereferenced
  std::atomic<bool> held_{false}, duplicate_{false}, cut_{false};
  std::atomic<std::uint64_t> connections_{0}, bytes_{0};
  std::thread thread_;
};

}  // namespace placemesh::tools
