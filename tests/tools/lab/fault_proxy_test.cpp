// tools/fault_proxy: the relay the fault tests put in front of gossip ports.
#include "tools/lab/fault_proxy.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "tools/lab/bench_common.hpp"
#include "tools/lab/local_network.hpp"

using namespace placemesh;

namespace {

// A listening socket on a free loopback port that accepts nothing until asked.
struct Listener {
  Listener() : port(tools::free_port()), fd(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(port);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(fd, 16) == 0);
  }
  ~Listener() { ::close(fd); }
  std::uint16_t port;
  int fd;
};

// Reads until EOF or the deadline; the bytes read, or -1 without EOF.
long drain_until_eof(int fd, std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  long total = 0;
  char buffer[65536];
  while (std::chrono::steady_clock::now() < until) {
    pollfd entry{fd, POLLIN, 0};
    if (::poll(&entry, 1, 50) <= 0) continue;
    const auto n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) return total;
    if (n < 0) return -1;
    total += n;
  }
  return -1;
}

}  // namespace

TEST_CASE("fault_proxy: a client that hangs up is hung up on the server too, even one that was not reading") {
  Listener server;
  const std::uint16_t proxy_port = tools::free_port();
  tools::FaultProxy proxy(proxy_port, server.port);
  // What a frozen node sees: a peer pushes more than the socket buffers
  // hold, then gives up and closes, while the node reads nothing.
  const int client = bench::connect_loopback(proxy_port);
  REQUIRE(client >= 0);
  const int accepted = ::accept(server.fd, nullptr, nullptr);
  REQUIRE(accepted >= 0);
  const std::string message(2 << 10, 'x');
  long sent = 0;
  for (int i = 0; i < 300; ++i) {  // digests and records, a few hundred kB in all
    const auto n = ::send(client, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) sent += n;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::close(client);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the server still "frozen" a while (the fault itself)
  const long received = drain_until_eof(accepted, std::chrono::seconds(5));
  ::close(accepted);
  INFO(sent << " bytes sent through the proxy");
  CHECK(received >= 0);  // EOF came: the proxy closed its side
}
