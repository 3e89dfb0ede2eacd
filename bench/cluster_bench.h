// The cluster benchmark (docs/SPEC.md section 5): `minotaur bench` / `minotaur bench cluster`.
//
// Starts its own local cluster of real `minotaur node` processes (tooling/node_procs.h), creates
// `sessions` games through POST /api/v1/games (admin token; two players each, player 1 the user
// of one of the `clients`), and then, in phases:
//   1. throughput: every client on node 1's WebSocket, registering actions as fast as they are
//      answered (`window` in flight per connection) for `phase_s`, once on the games node 1
//      hosts (local) and once on the games hosted elsewhere (forwarded) -> actions_per_s, and
//      the nodes' CPU time per 1,000 of those actions -> node_cpu_ms_per_1k_actions;
//   2. latency at half the local rate, open loop (calls sent on a schedule) -> latency_ms;
//   3. rolling restart under load: every client on its own node, every session driven; after a
//      baseline window each node in turn gets SIGTERM (or SIGKILL with `kill`), the bench waits
//      for its exit (drain_ms), starts it again (from `executable`, also when the cluster began
//      on `from_executable`) and waits until it is ready; then the load goes
//      on until `duration_s` have passed since it began; after each restart the bench waits
//      until every node lists every node as up, then `settle_s` -> pause_ms (per session, the
//      longest gap between two acknowledged actions that overlaps the restart window),
//      stall_ms (over the sessions that had a call during the restarts, the longest time from a
//      call's first attempt to its ack, retries included), baseline_gap_ms (the longest gap
//      wholly inside the window before the first restart), router_counters (from /metrics);
//   4. check: every session read back over HTTP: missing -> lost_sessions; an acknowledged
//      version above the game's version, a version that went back, or a last acknowledged move
//      that the game does not show (and that no later unanswered attempt explains) ->
//      lost_actions;
//   5. memory: a fresh single node, `memory_sessions` idle games created, its VmRSS growth per
//      game -> bytes_per_session, next to encoded_game_bytes (the Protocol Buffers state).
// With `data_dirs`, every node started (also the memory phase's) keeps its replica on disk
// (`minotaur node --data-dir`, the node's default commit interval), each in a fresh folder of its
// own that it keeps across its restarts; data_dirs in the JSON says so. With `database`, the
// nodes of the cluster share a PostgreSQL server started for the run (--database-url).
// Read pause_ms against baseline_gap_ms: a session's actions come around once per
// sessions / rate, so the gap without any restart is that long already.
//
// Progress lines go to `progress`; the result is one JSON object. With MINOTAUR_BENCH_TRACE=1
// in the environment, every call slower than 200 ms, every reconnect, signal and ready time is
// printed too (stderr). This is a driver: it reads clocks, sends signals and starts processes.
// Call from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace minotaur::bench {

struct ClusterBenchOptions {
  std::string executable;  // the `minotaur` binary to start nodes from
  // Another build's `minotaur` (the previous release, say): the cluster starts from it, phases 1
  // and 2 measure it, and phase 3 restarts each node onto `executable`, so that its pause and
  // stall are those of a rolling deploy from one version to the other. Empty: `executable`
  // throughout. from_build and to_build in the JSON name the builds the cluster listed.
  std::string from_executable;
  std::size_t sessions = 1'000;
  std::size_t nodes = 3;
  double duration_s = 15;    // the load of phase 3, at least this long
  std::size_t clients = 16;  // WebSocket connections
  std::size_t window = 32;   // calls in flight per connection
  bool kill = false;         // SIGKILL instead of SIGTERM
  std::string replication = "async";
  double phase_s = 3;                    // each of the throughput and latency phases; 0 skips them
  double baseline_s = 3;                 // load before the first restart
  double settle_s = 1;                   // after a restarted node is ready, before the next one
  std::size_t memory_sessions = 10'000;  // 0 skips the memory phase
  bool keep_logs = false;                // keep the nodes' folders also when nothing was lost
  // Data dirs: none unless data_dirs. The cluster's node N gets data_dir/nodeN and the memory
  // phase's node data_dir/memory/node1, kept at the end; with data_dir empty, they are in the
  // nodes' folders under /tmp and go with them.
  bool data_dirs = false;
  std::string data_dir;
  // A throw-away PostgreSQL server (Debian's postgresql package, tooling/postgres_server.h),
  // started for the run and given to every node of the cluster (not the memory phase's) as
  // --database-url; database_lag in the JSON says how far behind it the nodes ran under the
  // load, and router_counters its rows written and write errors.
  bool database = false;
};

// Runs the benchmark. The JSON object, or why it could not run (a node that did not start...).
Result<std::string, std::string> run_cluster_bench(
    const ClusterBenchOptions& options, const std::function<void(std::string_view)>& progress);

}  // namespace minotaur::bench
