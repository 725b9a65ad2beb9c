#pragma once
// placemesh-bench --only mesh: the quickstart network (HQ and six centres) as
// real processes on loopback (BENCHMARKS.md, "Replication"):
//   propagation  an admission acknowledged at a centre until it is visible on
//                all six other nodes (each watched through its event stream), p50/p99,
//                next to the store's commit time in the same run; again with
//                a delay on every link (fault proxies)
//   idle         gossip bytes per node per second with nothing happening
//   catch-up     a centre stopped while the others record N operations, then
//                started: time until its board equals HQ's, bytes it received
//                against the size of the state it lacked
#include <filesystem>

namespace placemesh::tools {

struct MeshBenchOptions {
  std::filesystem::path dir;
  int samples = 200;
  int delay_ms = 20;
  int catchup_ops = 100'000;
  int clients = 8;  // for the catch-up's operations
};

void run_mesh_bench(const MeshBenchOptions& options);

// placemesh-bench --only board: HQ linked to six centres. Board requests/s
// (wrk, side by side with /healthz, the same server's floor), GET /v1/board
// latency with no event streams and with 200 open, and the fan-out delay of
// a change at CIM to 200 streams at HQ.
void run_board_bench(const MeshBenchOptions& options);

}  // namespace placemesh::tools
