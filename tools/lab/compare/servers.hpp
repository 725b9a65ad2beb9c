#pragma once
// The servers placemesh is compared with (BENCHMARKS.md, "Against a central
// store"), started on loopback with their data in a folder of the caller's
// and stopped on destruction: Redis with appendfsync always, a three-member
// etcd cluster, and PostgreSQL with synchronous_commit on. Each runs in a
// process group of its own, so that freezing it (SIGSTOP) freezes all of
// its processes. Failures end the program (bench::die): these are
// benchmarks, not the node.
//
// Thread contract: construct, signal and destroy from one thread.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace placemesh::compare {

// One spawned program, its output appended to a log file.
class Process {
 public:
  // `prefix` runs it through another command (setpriv, to drop root).
  Process(std::vector<std::string> argv, const std::filesystem::path& log);
  ~Process();  // SIGTERM, then SIGKILL after 10 s
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // To the whole process group.
  void signal(int number);
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

class RedisServer {
 public:
  RedisServer(const std::filesystem::path& dir, std::uint16_t port);
  [[nodiscard]] std::uint16_t port() const { return port_; }
  void signal(int number) { process_->signal(number); }

 private:
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
};

class EtcdCluster {
 public:
  static constexpr int members = 3;
  explicit EtcdCluster(const std::filesystem::path& dir);
  [[nodiscard]] std::uint16_t client_port(int member) const { return client_ports_.at(static_cast<std::size_t>(member)); }
  void signal(int member, int number) { processes_.at(static_cast<std::size_t>(member))->signal(number); }

 private:
  std::vector<std::uint16_t> client_ports_, peer_ports_;
  std::vector<std::unique_ptr<Process>> processes_;
};

class PostgresServer {
 public:
  PostgresServer(const std::filesystem::path& dir, std::uint16_t port);
  [[nodiscard]] std::uint16_t port() const { return port_; }
  // A libpq connection string for the server's superuser.
  [[nodiscard]] std::string conninfo() const;
  [[nodiscard]] std::string postgres_binary() const;
  void signal(int number) { process_->signal(number); }

 private:
  std::uint16_t port_;
  std::filesystem::path bin_;
  std::unique_ptr<Process> process_;
};

}  // namespace placemesh::compare
