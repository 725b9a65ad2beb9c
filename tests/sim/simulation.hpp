#pragma once
// The deterministic simulator (issue 5): the real Replica (with its LMDB
// store) and the real gossip state machine (net/gossip) of N nodes, over a
// simulated network and clock. Everything random comes from one seed, and
// every store completion is awaited before the next event, so a seed replays
// the same run.
//
// A run: operations at random centres while faults are injected — message
// loss, duplication, delay (hence reordering), partitions (links stay "up"
// but carry nothing, like a half-open TCP connection), crashes with restart
// from the store, and restarts from a wiped data directory. Safety is checked
// every simulated second: no node ever shows a counter above what was
// acknowledged. Then everything heals and every node must equal the oracle
// exactly (and each other) within a deadline.
//
// The oracle: for every counter key and origin, the total of the
// acknowledged operations. A wiped node loses what only its disk held: at the
// crash that precedes a wipe, its origin's contribution becomes the best copy
// any other node holds (in memory or in its store); how much was lost is
// reported.
//
// Each node is the node core placemeshd runs (node/node_core, assembled by
// NodeCore::open from its store and a signed roster): replica, gossip,
// heartbeats and roster handling. With roster_changes, the admin hands two
// newer signed rosters to one running node each during the chaos: one that
// changes a pool's capacity, then one that revokes a centre, which keeps
// running and writing with its old roster. Every other node must end on the
// newest roster with no link to the revoked centre (its handshakes are
// refused), and converge exactly without it: its origins and what it
// acknowledged leave the comparison.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace placemesh::sim {

struct Faults {
  double loss = 0;       // probability that a message is dropped
  double duplicate = 0;  // probability that a message is delivered twice
  std::int64_t delay_min_ms = 1, delay_max_ms = 5;  // per message, uniform: reordering when wide
  bool partitions = false;
  bool crashes = false;
  std::int64_t crash_every_min_ms = 4'000, crash_every_max_ms = 12'000;  // between two crashes, uniform
  bool wipes = false;     // implies crashes
  double wipe_share = 0.3;  // of the crashes, those that also delete the data directory
};

// "none", "all", or a comma list: loss=0.2, dup=0.05, delay=1-200,
// partitions, crashes[=MIN-MAX] (ms between crashes), wipes[=SHARE].
[[nodiscard]] bool parse_faults(const std::string& text, Faults& faults, std::string& error);
[[nodiscard]] std::string describe(const Faults& faults);

struct Options {
  std::size_t nodes = 7;  // HQ and nodes−1 centres
  std::uint64_t seed = 1;
  std::size_t operations = 300;
  std::int64_t chaos_ms = 60'000;        // operations and faults
  std::int64_t heal_deadline_ms = 180'000;
  std::int64_t idle_ms = 10'000;         // after convergence: traffic at idle
  // Links per node beyond a ring; 0 = full mesh (the default up to 12 nodes).
  std::size_t degree = 0;
  std::int64_t sync_interval_ms = 1'000;
  std::int64_t heartbeat_interval_ms = 5'000;
  Faults faults;
  bool roster_changes = false;  // a roster push, then a revocation, during the chaos
  std::filesystem::path dir;  // data directories (removed at the end)
};

struct Report {
  bool ok = false;
  std::string failure;  // what broke, with the seed
  std::size_t nodes = 0, links = 0;
  std::uint64_t acknowledged = 0, refused = 0;
  std::uint64_t crashes = 0, wipes = 0, partitions = 0;
  std::uint64_t messages = 0, messages_lost = 0, messages_duplicated = 0, bytes = 0;
  std::uint64_t lost_to_wipes = 0;  // counter units only a wiped disk held
  std::uint64_t safety_checks = 0;
  std::uint64_t roster_pushes = 0, roster_version = 1;  // the version every member ends on
  std::uint64_t rosters_lost_to_wipes = 0;  // pushed versions that only wiped disks held
  std::uint64_t handshakes_refused = 0;   // dials refused by a roster (the revoked centre's)
  std::uint64_t unasked_deltas = 0;  // second copies of answers (duplication), refused
  std::uint64_t refused_from_revoked = 0;  // records of the revoked centre refused by members
  std::int64_t converge_ms = -1;  // from heal to every node equal to the oracle
  double idle_bytes_per_node_per_s = 0;
  std::string replay;  // the command that replays this run
};

[[nodiscard]] Report run(const Options& options);
[[nodiscard]] std::string summary(const Report& report);

}  // namespace placemesh::sim
