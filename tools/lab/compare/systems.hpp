#pragma once
// The systems of placemesh-compare, behind one small interface: six
// writers (one per centre) make durable per-pool increments, HQ reads every
// pool, and one writer is cut off from the others to see whether it can
// still record an admission.
//
//   placemesh   seven nodes on loopback; a centre writes to its own node
//               (POST …/admit), HQ reads GET /v1/board on its own node
//   etcd        three members; writer i talks to member i % 3 and PUTs its
//               pool's new total (each pool has one writer), HQ reads a
//               range from member 0 (linearizable, the default)
//   redis       one server, appendfsync always; INCR, HQ reads MGET
//   postgres    one server, synchronous_commit on; UPDATE … + 1 in its own
//               transaction, HQ reads SELECT
//
// Thread contract: a System's writer() and reader() objects are used each
// by one thread; cut_off() runs alone.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace placemesh::compare {

// centre → its pools ("CIM" → {"CIM/men"}), as in DESIGN §1.
using Pools = std::vector<std::pair<std::string, std::vector<std::string>>>;
[[nodiscard]] const Pools& centre_pools();

class Writer {
 public:
  virtual ~Writer() = default;
  // One durable increment of `pool`; `total` is the pool's count after it
  // (what the writer knows, being the pool's only writer). False on failure.
  [[nodiscard]] virtual bool increment(const std::string& pool, std::int64_t total) = 0;
};

class Reader {
 public:
  virtual ~Reader() = default;
  // Every pool's count as HQ sees it; nullopt on failure.
  [[nodiscard]] virtual std::optional<std::map<std::string, std::int64_t>> read() = 0;
};

struct CutOff {
  bool recorded = false;
  std::string said;            // what the writer got
  double answer_ms = 0;        // how long until that answer
  std::optional<double> at_hq_ms;  // recorded: time until HQ saw it once the others were back
};

class System {
 public:
  virtual ~System() = default;
  [[nodiscard]] virtual std::string name() const = 0;
  [[nodiscard]] virtual std::string setup() const = 0;  // one line for the table
  [[nodiscard]] virtual std::unique_ptr<Writer> writer(std::size_t centre) = 0;
  [[nodiscard]] virtual std::unique_ptr<Reader> reader() = 0;
  // What the system did for the increments so far, for the notes ("" if
  // nothing to say).
  [[nodiscard]] virtual std::string work_done(std::size_t increments) const {
    (void)increments;
    return "";
  }
  // Freezes (SIGSTOP) everyone the last centre's writer depends on but its
  // own node for `deadline`, tries one admission meanwhile, then thaws them:
  // the same freeze for every system.
  [[nodiscard]] CutOff cut_off(std::chrono::milliseconds deadline);

 protected:
  // What cut_off() needs of each system: what to read or connect before the
  // freeze; a signal to the last centre's counterparts; one admission by its
  // writer, alone, within `deadline` (recorded and said); and, once they are
  // thawed, how long HQ took to see it (nullopt where HQ need not catch up).
  virtual void before_freeze(std::chrono::milliseconds deadline) { (void)deadline; }
  virtual void signal_counterparts(int number) = 0;
  [[nodiscard]] virtual CutOff admit_alone(std::chrono::milliseconds deadline) = 0;
  [[nodiscard]] virtual std::optional<double> at_hq_after_thaw() { return std::nullopt; }
};

[[nodiscard]] std::unique_ptr<System> start_placemesh(const std::filesystem::path& dir);
[[nodiscard]] std::unique_ptr<System> start_etcd(const std::filesystem::path& dir);
[[nodiscard]] std::unique_ptr<System> start_redis(const std::filesystem::path& dir);
[[nodiscard]] std::unique_ptr<System> start_postgres(const std::filesystem::path& dir);

}  // namespace placemesh::compare
