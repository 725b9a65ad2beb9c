#pragma once
// What the benchmarks share: percentiles, a plain keep-alive HTTP client (the
// same client cost for every system measured) and the machine line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace placemesh::bench {

using Clock = std::chrono::steady_clock;

inline double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

inline double median(std::vector<double> values) { return percentile(std::move(values), 0.5); }

[[noreturn]] inline void die(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, message.c_str());
  std::exit(1);
}

// A blocking TCP connection to an IPv4 address (TCP_NODELAY); -1 when it
// cannot be made.
// `source`: the local address to connect from ("" lets the kernel choose).
inline int connect_tcp(const std::string& host, std::uint16_t port, const std::string& source = {}) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (::inet_pton(AF_INET, host.c_str(), &address.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline int connect_loopback(std::uint16_t port) { return connect_tcp("127.0.0.1", port); }

inline bool send_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

inline bool send_all(int fd, std::string_view data) {
  return send_all(fd, std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

// A blocking keep-alive HTTP client, as plain as LineClient, so the client
// side costs the same for every system measured.
class RawHttpClient {
 public:
  RawHttpClient(std::uint16_t port, std::string token) : fd_(connect_loopback(port)), token_(std::move(token)) {
    if (fd_ < 0) die("cannot connect to the node's API on port " + std::to_string(port));
  }
  ~RawHttpClient() { ::close(fd_); }
  // POSTs and returns the status code (0 when the connection failed).
  int post(std::string_view target, std::string_view body) { return request("POST", target, body); }
  // GETs; the answer's body is then in body().
  int get(std::string_view target) { return request("GET", target, ""); }
  [[nodiscard]] std::string_view body() const {
    return head_end_ == std::string::npos ? std::string_view() : std::string_view(buffer_).substr(head_end_ + 4);
  }

  int request(std::string_view method, std::string_view target, std::string_view body) {
    request_.clear();
    request_.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: bench\r\n");
    if (!token_.empty()) request_.append("Authorization: Bearer ").append(token_).append("\r\n");
    request_.append("Content-Type: application/json\r\nContent-Length: ");
    request_.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
    if (!send_all(fd_, request_)) return 0;
    buffer_.clear();
    head_end_ = std::string::npos;
    std::size_t need = 0;
    char chunk[4096];
    for (;;) {
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) return 0;
      buffer_.append(chunk, static_cast<std::size_t>(n));
      if (head_end_ == std::string::npos) {
        head_end_ = buffer_.find("\r\n\r\n");
        if (head_end_ == std::string::npos) continue;
        const auto length_at = buffer_.find("Content-Length: ");
        if (length_at == std::string::npos || length_at > head_end_) return 0;
        need = head_end_ + 4 + std::stoul(buffer_.substr(length_at + 16));
      }
      if (buffer_.size() >= need) return std::atoi(buffer_.c_str() + 9);
    }
  }

 private:
  int fd_;
  std::string token_;
  std::string request_, buffer_;
  std::size_t head_end_ = std::string::npos;
};

// Every process below `root`, from the parent links in /proc.
inline std::vector<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    pid_t parent = 0;
    if (rest >> state >> parent) children.emplace(parent, static_cast<pid_t>(std::stol(name)));
  }
  std::vector<pid_t> out, todo = {root};
  while (!todo.empty()) {
    const pid_t at = todo.back();
    todo.pop_back();
    for (auto [it, end] = children.equal_range(at); it != end; ++it) {
      out.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return out;
}

inline void kill_descendants() {
  for (const pid_t child : descendants(::getpid())) {
    ::kill(child, SIGCONT);  // a frozen one too
    ::kill(child, SIGKILL);
  }
}

// No server or node outlives a benchmark: whatever this process started
// (and what those started: PostgreSQL's backends leave their group) is
// killed when it exits by die(), or on SIGINT/SIGTERM (then exit 130). A
// normal return has stopped them cleanly already. Call once, early in main.
inline void kill_children_at_exit() {
  std::atexit(kill_descendants);
  static int wake[2] = {-1, -1};
  if (::pipe2(wake, O_CLOEXEC) != 0) return;
  // The handler only writes a byte; this thread does the work.
  std::thread([] {
    char byte = 0;
    while (::read(wake[0], &byte, 1) < 0 && errno == EINTR) {
    }
    std::fprintf(stderr, "%s: interrupted; killing the servers it started\n", program_invocation_short_name);
    kill_descendants();
    ::_exit(130);
  }).detach();
  const auto handler = [](int) {
    const char byte = 1;
    (void)!::write(wake[1], &byte, 1);
  };
  std::signal(SIGINT, handler);
  std::signal(SIGTERM, handler);
}

// "2 cores, AMD EPYC, Linux 6.18.44" (for reports).
inline std::string machine_description() {
  utsname name{};
  ::uname(&name);
  std::string cpu = "unknown CPU";
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  return std::to_string(std::thread::hardware_concurrency()) + " cores, " + cpu + ", Linux " + name.release;
}

inline void print_machine(const std::filesystem::path& dir) {
  std::printf("machine: %s; data in %s\n\n", machine_description().c_str(), dir.c_str());
}

}  // namespace placemesh::bench
