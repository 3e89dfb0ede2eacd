// minotaur: the one executable. Subcommands: node, local, token-keys, bench, sim
// (docs/SPEC.md section 2).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <vector>

#include "app/ctl_command.h"
#include "app/local.h"
#include "app/node_command.h"
#include "app/token_keys_command.h"
#include "base/build_info.h"
#include "base/log_format.h"
#include "bench/cluster_bench.h"
#include "crdt/bench.h"
#include "node/node.h"
#include "sim/world.h"
#include "transport/protocol_range.h"

namespace {

// When the first argument names no subcommand (a typo, say), what to tell the user: the word,
// the nearest subcommand when one is near, and the list. nullopt when it names one, or is an
// option (--help) or missing, which CLI11 answers itself.
std::optional<std::string> unknown_subcommand(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return std::nullopt;
  const std::string word = argv[1];
  std::string names;
  std::string nearest;
  std::size_t nearest_distance = 3;  // suggest only a name within two edits
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const std::string& name = sub->get_name();
    if (name == word) return std::nullopt;
    names += (names.empty() ? "" : ", ") + name;
    // Levenshtein distance, one row at a time.
    std::vector<std::size_t> row(name.size() + 1);
    for (std::size_t j = 0; j <= name.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= name.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min(
            {row[j] + 1, row[j - 1] + 1, diagonal + (word[i - 1] == name[j - 1] ? 0u : 1u)});
        diagonal = above;
      }
    }
    if (row[name.size()] < nearest_distance) {
      nearest_distance = row[name.size()];
      nearest = name;
    }
  }
  return "minotaur: '" + word + "' is no subcommand" +
         (nearest.empty() ? "" : "; did you mean '" + nearest + "'?") +
         "\nThe subcommands: " + names + "; `minotaur SUBCOMMAND --help` prints its flags.\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Minotaur: a clustered server for turn-based multiplayer games whose sessions "
      "survive the loss of their node."};
  app.require_subcommand(1);
  // minotaur --version: the build (base/build_info.h) and the cluster protocol versions it
  // speaks, which decide which builds it can be deployed over (transport/handshake.h).
  app.set_version_flag("--version", [] {
    return "minotaur " + minotaur::build_description() + "\ncluster protocol versions " +
           minotaur::transport::to_string(minotaur::transport::kProtocolRange);
  });
  spdlog::set_pattern(minotaur::kTextLogPattern);

  // minotaur node
  minotaur::app::NodeFlags node;
  minotaur::app::add_node_command(app, node);

  // minotaur ctl
  minotaur::app::CtlFlags ctl;
  minotaur::app::add_ctl_command(app, ctl);

  // minotaur local
  minotaur::app::LocalOptions local;
  auto* local_cmd = app.add_subcommand(
      "local",
      "Run a whole cluster on this machine, with the browser game on http://127.0.0.1:8080");
  local_cmd->add_option("--nodes", local.nodes, "Number of node processes")
      ->check(CLI::Range(1, 9))
      ->default_val(3);
  local_cmd
      ->add_option("--http-port", local.first_http_port,
                   "HTTP port of the first node; node i listens on this + i - 1, and local's "
                   "control port on this - 1")
      ->default_val(8080);
  local_cmd
      ->add_option("--cluster-port", local.first_cluster_port,
                   "Cluster port of the first node; node i listens on this + i - 1")
      ->default_val(9080);
  local_cmd->add_option("--round-time-ms", local.round_time_ms, "Length of a round")
      ->default_val(30'000);
  local_cmd->add_option("--dir", local.dir,
                        "Folder for the secret, the token keys and the admin token (kept when the "
                        "folder has them, so that players stay signed in), the nodes' logs and "
                        "their data dirs (data/), so that a new start brings every game back "
                        "(default: $XDG_STATE_HOME/minotaur/local or "
                        "~/.local/state/minotaur/local)");
  local_cmd->add_flag("--fresh", local.fresh,
                      "Start with no games: remove the data dirs of the last run in the folder "
                      "first (the secret and token keys stay)");
  local_cmd->footer(
      "Before it starts anything, local checks that every port it needs is free: the HTTP "
      "ports, the cluster ports and its control port; a port in use stops it at once (exit 1), "
      "naming the port and the flag that moves it.\n\n"
      "Once the nodes are ready it prints the page's address with the admin token in it "
      "(http://127.0.0.1:8080/#local-token=TOKEN) and takes commands, one a line:\n"
      "  restart N   stop node N with SIGTERM (a deploy) and start it again\n"
      "  kill N      stop node N with SIGKILL (a crash) and start it again\n"
      "  roll        restart every node in turn (a rolling deploy)\n"
      "  status      each node: running (pid, ready or not) or stopped (exit code)\n"
      "  quit        stop every node (as Ctrl-C does) and exit\n\n"
      "Control port: 127.0.0.1 at --http-port minus 1 (8079 by default). The page's restart, "
      "kill and roll buttons call it: POST /local/restart?node=N, /local/kill?node=N, "
      "/local/roll, with `Authorization: Bearer TOKEN` (the admin token, in the folder's "
      "admin-token file), and only from the page's own origins.");

  // minotaur token-keys
  minotaur::app::TokenKeysCommand token_keys;
  minotaur::app::add_token_keys_command(app, token_keys);

  // minotaur bench
  auto* bench_cmd = app.add_subcommand(
      "bench",
      "Benchmarks (docs/SPEC.md section 5, docs/BENCHMARKS.md). Without a subcommand: the "
      "cluster benchmark (bench cluster), with the same flags.");
  bench_cmd->require_subcommand(0, 1);
  minotaur::bench::ClusterBenchOptions cluster_bench;
  // Nodes are started from this very executable, wherever it was found.
  std::error_code exe_error;
  cluster_bench.executable = std::filesystem::read_symlink("/proc/self/exe", exe_error).string();
  if (exe_error) cluster_bench.executable = argv[0];
  const auto add_cluster_flags = [&cluster_bench](CLI::App* cmd) {
    auto& o = cluster_bench;
    cmd->add_option("--sessions", o.sessions, "Games created on the cluster and driven")
        ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(1'000'000)))
        ->default_val(1'000);
    cmd->add_option("--nodes", o.nodes, "Node processes started")
        ->check(CLI::Range(static_cast<std::size_t>(2), static_cast<std::size_t>(9)))
        ->default_val(3);
    cmd->add_option("--duration-s", o.duration_s,
                    "Length of the load with the rolling restart (at least: it lasts until "
                    "every node was restarted)")
        ->check(CLI::Range(0.0, 3600.0))
        ->default_val(15);
    cmd->add_option("--clients", o.clients, "Concurrent WebSocket clients (one user each)")
        ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(4096)))
        ->default_val(16);
    cmd->add_option("--window", o.window, "Actions in flight per client connection")
        ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(256)))
        ->default_val(32);
    cmd->add_flag("--kill", o.kill,
                  "Stop nodes with SIGKILL (a crash) instead of SIGTERM; use with "
                  "--replication sync to expect nothing lost");
    cmd->add_option("--replication", o.replication, "The nodes' --replication")
        ->check(CLI::IsMember({"async", "sync"}))
        ->default_val("async");
    cmd->add_option("--phase-s", o.phase_s,
                    "Length of each throughput and latency phase; 0 skips them")
        ->check(CLI::Range(0.0, 600.0))
        ->default_val(3);
    cmd->add_option("--baseline-s", o.baseline_s,
                    "Load before the first restart (its gaps are baseline_gap_ms)")
        ->check(CLI::Range(0.5, 600.0))
        ->default_val(3);
    cmd->add_option("--settle-s", o.settle_s,
                    "Wait after a restarted node is ready and every node lists every node as "
                    "up, before stopping the next")
        ->check(CLI::Range(0.0, 600.0))
        ->default_val(1);
    cmd->add_option("--memory-sessions", o.memory_sessions,
                    "Idle games created on a fresh single node to measure memory per session; "
                    "0 skips it")
        ->check(CLI::Range(static_cast<std::size_t>(0), static_cast<std::size_t>(10'000'000)))
        ->default_val(10'000);
    cmd->add_flag("--keep-logs", o.keep_logs,
                  "Keep the nodes' logs (a folder under /tmp) also when nothing was lost");
    // An optional value: alone, the data dirs go in the nodes' folder under /tmp (removed with
    // it); with a folder, they are kept there for the user.
    cmd->add_option_function<std::string>(
           "--data-dir",
           [&o](const std::string& dir) {
             o.data_dirs = true;
             o.data_dir = dir;
           },
           "Give every node a data dir of its own (minotaur node --data-dir: its replica on "
           "disk, written every --commit-interval-ms, 100 by default), fresh for the run: "
           "DIR/node1, DIR/node2... (the memory phase's node: DIR/memory/node1), kept at the "
           "end; none of them may exist yet. Without DIR: in the nodes' folder under /tmp, "
           "removed with it")
        ->expected(0, 1)
        ->type_name("[DIR]");
    cmd->add_flag("--database", o.database,
                  "Start a throw-away PostgreSQL server (Debian's postgresql package) for the run "
                  "and give it to every node of the cluster as --database-url; the JSON's "
                  "database_lag says how far behind it the nodes ran under the load");
    cmd->add_option("--from-binary", o.from_executable,
                    "Start the cluster from another build's minotaur (the previous release's: "
                    "scripts/build-previous.sh builds it, --print-binary says where) and roll "
                    "it onto this build "
                    "in the restart phase, so that its pause and stall are those of a deploy "
                    "from that version; the throughput and latency phases measure that build")
        ->check(CLI::ExistingFile)
        ->type_name("PATH");
  };
  add_cluster_flags(bench_cmd);
  std::string bench_json_out;
  bench_cmd->add_option("--json-out", bench_json_out, "Also write the JSON object to this file");
  auto* cluster_cmd = bench_cmd->add_subcommand(
      "cluster",
      "The cluster: starts its own nodes, creates games, drives actions from WebSocket "
      "clients, restarts every node in turn under that load, checks that nothing was lost. "
      "Progress on stderr; one JSON object on stdout.");
  add_cluster_flags(cluster_cmd);
  cluster_cmd->add_option("--json-out", bench_json_out, "Also write the JSON object to this file");
  minotaur::crdt::CrdtBenchOptions crdt_bench;
  auto* crdt_cmd = bench_cmd->add_subcommand(
      "crdt",
      "The replicated store: two replicas in one process exchanging encoded messages "
      "through the real sync protocol. Prints one JSON object.");
  crdt_cmd->add_option("--keys", crdt_bench.keys, "Keys written on the first replica")
      ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(10'000'000)))
      ->default_val(100'000);
  crdt_cmd->add_option("--value-bytes", crdt_bench.value_bytes, "Bytes per value")
      ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(1 << 20)))
      ->default_val(1024);
  crdt_cmd
      ->add_option("--latency-samples", crdt_bench.latency_samples,
                   "Single-key round trips measured after the bulk load")
      ->default_val(2000);

  // minotaur sim
  minotaur::sim::SimConfig sim;
  std::uint64_t sim_seeds = 1;
  bool sim_full_trace = false;
  auto* sim_cmd = app.add_subcommand(
      "sim",
      "Deterministic simulation of a cluster under faults (the real membership, store and "
      "ownership code in virtual time), with checkers. Exit 1 when a checker fails; the same "
      "seed replays the same run.");
  sim_cmd->add_option("--seed", sim.seed, "First seed")->default_val(1);
  sim_cmd->add_option("--seeds", sim_seeds, "How many seeds, from --seed on")->default_val(1);
  sim_cmd->add_option("--steps", sim.steps, "Fault phase length, in steps of 10 ms")
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(1'000'000)))
      ->default_val(1500);
  sim_cmd->add_option("--nodes", sim.nodes, "Nodes")->check(CLI::Range(1, 32))->default_val(3);
  sim_cmd->add_option("--games", sim.games, "Games")->check(CLI::Range(1, 10'000))->default_val(6);
  sim_cmd->add_option("--clients", sim.clients, "Writing clients")
      ->check(CLI::Range(0, 1000))
      ->default_val(4);
  sim_cmd->add_flag("--sync", sim.sync, "--replication sync (default async)");
  sim_cmd->add_flag(
      "--no-faults", [&](std::int64_t) { sim.faults = false; }, "No faults");
  sim_cmd->add_flag(
      "--no-stops", [&](std::int64_t) { sim.stops = false; }, "No graceful stops");
  sim_cmd->add_flag(
      "--no-kills", [&](std::int64_t) { sim.kills = false; }, "No kills");
  sim_cmd->add_flag(
      "--no-partitions", [&](std::int64_t) { sim.partitions = false; }, "No partitions");
  sim_cmd->add_flag(
      "--no-freezes", [&](std::int64_t) { sim.freezes = false; }, "No stalls");
  sim_cmd->add_flag("--data-dirs", sim.disks,
                    "Each node keeps its store on a simulated disk (--data-dir), and power cuts of "
                    "the whole cluster are among the faults");
  sim_cmd->add_flag("--removals", sim.removals,
                    "An operator removes the names of members that are down, through random "
                    "nodes, as POST /api/v1/admin/members/{name}/remove does");
  sim_cmd->add_flag("--overlapping-faults", sim.overlapping_faults,
                    "Let kills and cuts overlap (two failures at once: beyond the guarantees, "
                    "which hold for one at a time; for exploring)");
  sim_cmd->add_flag("--unsafe-skip-ack", sim.unsafe_skip_ack,
                    "BROKEN variant: hand-off without waiting for the acknowledgement");
  sim_cmd->add_flag("--unsafe-skip-confirm", sim.unsafe_skip_confirm,
                    "BROKEN variant: a session picked up from the store takes changes before "
                    "a peer holds its new epoch");
  sim_cmd->add_flag("--unsafe-skip-disk-wait", sim.unsafe_skip_disk_wait,
                    "BROKEN variant (with --data-dirs --sync): a sync write does not wait for the "
                    "disk");
  sim_cmd->add_flag("--unsafe-no-quorum", sim.unsafe_no_quorum, "BROKEN variant: no quorum lease");
  sim_cmd->add_flag("--unsafe-stale-quorum", sim.unsafe_stale_quorum,
                    "BROKEN variant: the quorum lease read at ticks, not at each call");
  sim_cmd->add_flag("--unsafe-force-removals", sim.unsafe_force_removals,
                    "BROKEN variant (with --removals): remove every name not heard, with force");
  sim_cmd->add_flag("--full-trace", sim_full_trace, "Print the whole trace of a failed seed");
  sim_cmd->add_flag("--logs", sim.logs,
                    "Put the nodes' own log lines (debug level and up) in the trace, each after "
                    "the event that wrote it (they do not change the run)");

  if (const auto unknown = unknown_subcommand(app, argc, argv)) {
    std::fprintf(stderr, "%s", unknown->c_str());
    return static_cast<int>(CLI::ExitCodes::ExtrasError);
  }
  CLI11_PARSE(app, argc, argv);

  if (sim_cmd->parsed()) {
    spdlog::set_level(spdlog::level::off);
    if (sim_full_trace) sim.trace_tail = 1'000'000'000;
    std::uint64_t failed = 0;
    const std::uint64_t first = sim.seed;
    for (std::uint64_t seed = first; seed < first + sim_seeds; ++seed) {
      sim.seed = seed;
      const auto r = minotaur::sim::run(sim);
      if (!r.ok) {
        ++failed;
        std::printf("%s", r.report(seed).c_str());
      } else if (sim_seeds == 1 || (seed - first + 1) % 100 == 0) {
        std::fprintf(stderr, "sim: seed %llu %s\n", static_cast<unsigned long long>(seed),
                     r.summary().c_str());
      }
    }
    std::printf("sim: %llu of %llu seed(s) failed\n", static_cast<unsigned long long>(failed),
                static_cast<unsigned long long>(sim_seeds));
    return failed == 0 ? 0 : 1;
  }

  if (crdt_cmd->parsed()) {
    const std::string out = minotaur::crdt::run_crdt_bench(crdt_bench, [](std::string_view line) {
      std::fprintf(stderr, "bench: %.*s\n", static_cast<int>(line.size()), line.data());
    });
    std::printf("%s\n", out.c_str());
    return 0;
  }

  if (bench_cmd->parsed()) {
    const auto began = std::chrono::steady_clock::now();
    auto out = minotaur::bench::run_cluster_bench(cluster_bench, [began](std::string_view line) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
      std::fprintf(stderr, "bench %6.1fs: %.*s\n", s, static_cast<int>(line.size()), line.data());
    });
    if (!out) {
      std::fprintf(stderr, "bench: %s\n", out.error().c_str());
      return 1;
    }
    std::printf("%s\n", out.value().c_str());
    if (!bench_json_out.empty()) std::ofstream(bench_json_out) << out.value() << "\n";
    return 0;
  }

  if (node.cmd->parsed()) return minotaur::app::run_node_command(node);
  if (ctl.cmd->parsed()) return minotaur::app::run_ctl_command(ctl);
  if (local_cmd->parsed()) return minotaur::app::run_local(local, argv[0]);
  if (token_keys.new_command->parsed()) return minotaur::app::run_token_keys_command(token_keys);
  return 0;
}
