#pragma once
// A userspace TCP relay for tests and benchmarks: it stands between a node's
// advertised gossip address and its real one, and does to the byte stream
// what this machine's kernel (no netem qdisc) cannot: delay it, hold it
// back, duplicate a chunk, or cut every connection. Loopback only.
//
// It runs its own io_context on its own thread; every setter may be called
// from any thread and applies to the connections already open.

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <thread>

namespace placemesh::tools {

class FaultProxy {
 public:
  // Listens on 127.0.0.1:listen_port and relays each connection to
  // 127.0.0.1:target_port. Throws std::system_error when it cannot listen.
  FaultProxy(std::uint16_t listen_port, std::uint16_t target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Each chunk is forwarded this long after it arrived (order is kept).
  void set_delay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
  // While held, nothing is forwarded; releasing sends what was held back.
  void hold(bool held) { held_ = held; }
  // The next chunk read (either direction) is forwarded twice: a secure
  // stream must refuse the replay and the nodes must recover.
  void duplicate_next() { duplicate_ = true; }
  // Closes every connection and refuses new ones until restore().
  void cut();
  void restore() { cut_ = false; }

  [[nodiscard]] std::uint64_t connections() const { return connections_; }
  [[nodiscard]] std::uint64_t bytes() const { return bytes_; }

  struct Connection;

 private:
  void accept();

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::uint16_t target_port_;
  std::set<std::shared_ptr<Connection>> open_;
  std::atomic<std::int64_t> delay_ms_{0};
  std::atomic<bool> held_{false}, duplicate_{false}, cut_{false};
  std::atomic<std::uint64_t> connections_{0}, bytes_{0};
  std::thread thread_;
};

}  // namespace placemesh::tools
