#pragma once
// Connections to a gossip port from `sources`, `per_source` of each held
// open (each handshake slot they get is held to its timeout), reopened as
// soon as the node closes one, until destroyed. With a `hello`, each
// connection sends it first, so the node also does a key exchange for
// each before it waits for a proof that never comes. For tests of the
// handshake gate (node/handshake_gate): mesh_test on loopback, the fault
// campaign in network namespaces.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tools/lab/bench_common.hpp"

namespace placemesh::test {

class HandshakeFlood {
 public:
  HandshakeFlood(std::string host, std::uint16_t port, std::vector<std::string> sources, int per_source,
                 std::vector<std::uint8_t> hello = {})
      : thread_([this, host = std::move(host), port, sources = std::move(sources), per_source,
                 hello = std::move(hello)] {
          std::vector<std::pair<std::string, int>> open;
          while (!stop_) {
            for (const auto& source : sources) {
              int from_source = 0;
              for (const auto& [from, fd] : open) from_source += from == source;
              for (; from_source < per_source; ++from_source) {
                const int fd = bench::connect_tcp(host, port, source);
                if (fd < 0) break;
                ++opened_;
                if (!hello.empty()) (void)bench::send_all(fd, hello);
                open.emplace_back(source, fd);
              }
            }
            std::erase_if(open, [](const auto& entry) {
              pollfd p{entry.second, POLLIN, 0};
              char sink[256];
              if (::poll(&p, 1, 0) <= 0) return false;
              const auto got = ::recv(entry.second, sink, sizeof sink, MSG_DONTWAIT);
              if (got > 0) return false;  // its hello: the slot is held
              ::close(entry.second);
              return true;
            });
            // Pacing, not synchronisation: the flood goes on until destroyed.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
          for (const auto& [from, fd] : open) ::close(fd);
        }) {}
  ~HandshakeFlood() {
    stop_ = true;
    thread_.join();
  }
  HandshakeFlood(const HandshakeFlood&) = delete;
  HandshakeFlood& operator=(const HandshakeFlood&) = delete;
  [[nodiscard]] std::uint64_t opened() const { return opened_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> opened_{0};
  std::thread thread_;
};

}  // namespace placemesh::test
