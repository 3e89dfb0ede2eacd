// The cluster benchmark (cluster_bench.h): its cluster, phases 1 to 3 and the JSON result. The
// users and games it sets up (games_setup.h), the loss check (loss_check.h) and the memory phase
// (memory_phase.h) have files of their own.
#include "bench/cluster_bench.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "bench/games_setup.h"
#include "bench/loss_check.h"
#include "bench/memory_phase.h"
#include "bench/ws_load.h"
#include "tooling/http_client.h"
#include "tooling/node_procs.h"
#include "tooling/postgres_server.h"

namespace minotaur::bench {
namespace {

namespace json = boost::json;

// Nearest-rank percentiles of `v` (sorted here): {"p50", "p99", "max"} in ms, 0 when empty.
json::object percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) {
    if (v.empty()) return 0.0;
    const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size()));
    return v[std::min(i, v.size() - 1)];
  };
  const auto round3 = [](double x) { return std::round(x * 1000) / 1000; };
  return json::object{{"p50", round3(at(0.50))},
                      {"p99", round3(at(0.99))},
                      {"max", round3(v.empty() ? 0.0 : v.back())},
                      {"samples", v.size()}};
}

// A node's GET /metrics as name -> value (comment lines skipped); empty when it did not answer.
std::map<std::string, double> read_metrics(std::uint16_t port) {
  std::map<std::string, double> out;
  const HttpAnswer a = HttpClient(port).request("GET", "/metrics");
  if (a.status != 200) return out;
  std::istringstream in(a.body);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string name;
    double value = 0;
    if (line.starts_with('#') || !(fields >> name >> value)) continue;
    out[name] = value;
  }
  return out;
}

// Router counters from a node's GET /metrics, added to `totals` (a node's counters start
// again at 0 when it restarts, so each incarnation is read once: before it stops, or at the end).
void add_router_counters(std::uint16_t port, std::map<std::string, double>& totals) {
  static const char* kNames[] = {"minotaur_forwarded_total",
                                 "minotaur_forward_timeouts_total",
                                 "minotaur_handoffs_sent_total",
                                 "minotaur_handoffs_received_total",
                                 "minotaur_waits_for_arrival_total",
                                 "minotaur_database_rows_written_total",
                                 "minotaur_database_write_errors_total"};
  const std::map<std::string, double> metrics = read_metrics(port);
  for (const std::string name : kNames) {
    const auto it = metrics.find(name);
    if (it != metrics.end()) totals[name.substr(9, name.size() - 9 - 6)] += it->second;
  }
}

// Waits (30 s at most) until every node's GET /api/v1/cluster lists every node as up: after a
// restart, and after a SIGKILL's failure detection, placement is settled again.
bool wait_whole(const NodeProcs& procs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    bool whole = true;
    for (std::size_t i = 0; i < procs.size() && whole; ++i) {
      const json::value v = HttpClient(procs.http_port(i)).request("GET", "/api/v1/cluster").json();
      std::size_t up = 0;
      if (v.is_object() && v.as_object().contains("members")) {
        for (const auto& m : v.at("members").as_array()) up += m.at("status") == "up" ? 1u : 0u;
      }
      whole = up == procs.size();
    }
    if (whole) return true;
    sleep_s(0.05);
  }
  return false;
}

// With a database: how far behind it each node runs while the load goes on. Every 200 ms, every
// node's GET /metrics: minotaur_database_lag_ms (its oldest change not yet written) and
// minotaur_database_queue_length (sessions waiting to be written). A node that is restarting
// does not answer and gives no sample. The ports are the nodes' (they keep them across
// restarts), copied: NodeProcs is the bench thread's.
class DatabaseLagWatch {
 public:
  explicit DatabaseLagWatch(std::vector<std::uint16_t> ports)
      : thread_([this, ports = std::move(ports)](std::stop_token stop) {
          while (!stop.stop_requested()) {
            for (const std::uint16_t port : ports) sample(port);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
          }
        }) {}

  // Stops the sampling; then {"lag_ms": {p50, p99, max, samples}, "queue_max": sessions}.
  json::object result() {
    thread_.request_stop();
    thread_.join();
    std::lock_guard lock(mu_);
    return json::object{{"lag_ms", percentiles(lag_ms_)}, {"queue_max", queue_max_}};
  }

 private:
  void sample(std::uint16_t port) {
    const std::map<std::string, double> metrics = read_metrics(port);
    const auto lag = metrics.find("minotaur_database_lag_ms");
    const auto queue = metrics.find("minotaur_database_queue_length");
    std::lock_guard lock(mu_);
    if (lag != metrics.end()) lag_ms_.push_back(lag->second);
    if (queue != metrics.end()) queue_max_ = std::max(queue_max_, queue->second);
  }

  std::mutex mu_;
  std::vector<double> lag_ms_;
  double queue_max_ = 0;
  std::jthread thread_;  // last: it starts once the rest is built
};

// The builds the cluster runs, as node `port` lists them: "0.1.0 (b84bce416382)" for each
// distinct version and commit, joined with " and ".
std::string builds_listed_by(std::uint16_t port) {
  std::set<std::string> builds;
  const json::value v = HttpClient(port).request("GET", "/api/v1/cluster").json();
  if (v.is_object() && v.as_object().contains("members")) {
    for (const auto& m : v.at("members").as_array()) {
      const auto* version = m.as_object().if_contains("version");
      const auto* commit = m.as_object().if_contains("commit");
      if (version != nullptr && version->is_string() && commit != nullptr && commit->is_string()) {
        builds.insert(fmt::format("{} ({})", version->get_string(), commit->get_string()));
      }
    }
  }
  std::string out;
  for (const std::string& b : builds) out += (out.empty() ? "" : " and ") + b;
  return out.empty() ? "unknown" : out;
}

// CPU time (user + system, every thread) the node processes used so far, in ms; a process
// that cannot be read counts 0 (the figure is then low, never made up).
double nodes_cpu_ms(const NodeProcs& procs) {
  static const double tick_ms = 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (std::size_t i = 0; i < procs.size(); ++i) {
    std::ifstream in(fmt::format("/proc/{}/stat", procs.pid(i)));
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // After the command name in parentheses (which may hold spaces): state is field 3, utime
    // and stime are fields 14 and 15.
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string field;
    double utime = 0, stime = 0;
    for (int n = 3; n <= 15 && fields >> field; ++n) {
      if (n == 14) utime = std::strtod(field.c_str(), nullptr);
      if (n == 15) stime = std::strtod(field.c_str(), nullptr);
    }
    total += (utime + stime) * tick_ms;
  }
  return total;
}

double rate(const PhaseFigures& f) {
  return f.measured_s > 0 ? static_cast<double>(f.measured_acks) / f.measured_s : 0.0;
}

json::object codes_json(const std::map<std::string, std::uint64_t>& codes) {
  json::object o;
  for (const auto& [code, n] : codes) o[code] = n;
  return o;
}

}  // namespace

Result<std::string, std::string> run_cluster_bench(const ClusterBenchOptions& o,
                                                   const Progress& progress) {
  MINOTAUR_ASSERT(o.nodes >= 1 && o.clients >= 1 && o.sessions >= 1);
  if (o.kill && o.replication != "sync") {
    progress(
        "warning: --kill with --replication async may lose the changes of the last "
        "replication interval (docs/SPEC.md guarantee 2); give --replication sync to expect 0");
  }
  json::object out{{"sessions", o.sessions},       {"nodes", o.nodes},
                   {"clients", o.clients},         {"window", o.window},
                   {"replication", o.replication}, {"stop_signal", o.kill ? "SIGKILL" : "SIGTERM"},
                   {"data_dirs", o.data_dirs},     {"database", o.database}};

  // Declared before the nodes, so that it stops after them.
  std::unique_ptr<tooling::PostgresServer> database;
  if (o.database) {
    progress("starting a PostgreSQL server for the nodes' --database-url");
    auto pg = tooling::PostgresServer::create();
    if (!pg) return err("could not start PostgreSQL for --database: " + pg.error());
    database = std::move(pg).value();
    progress(fmt::format("PostgreSQL is on 127.0.0.1:{}", database->port()));
  }
  NodeProcsOptions po;
  po.executable = o.from_executable.empty() ? o.executable : o.from_executable;
  po.extra_args = {"--replication", o.replication};
  if (database) {
    po.extra_args.push_back("--database-url");
    po.extra_args.push_back(database->url());
  }
  po.data_dirs = o.data_dirs;
  po.data_dir_parent = o.data_dir;
  auto procs = std::make_unique<NodeProcs>(po);
  progress(
      fmt::format("starting {} nodes; secret, admin token and logs in {}", o.nodes, procs->dir()));
  if (o.data_dirs)
    progress(fmt::format("the nodes' data dirs are in {}", procs->data_dir_parent()));
  auto started = procs->start(o.nodes);
  if (!started) return err(started.error());
  const std::vector<std::uint16_t> ports = ports_of(*procs);
  out["from_build"] = builds_listed_by(ports[0]);
  if (!o.from_executable.empty()) {
    progress(fmt::format("the cluster runs {}; phase 3 rolls it onto this build",
                         out["from_build"].as_string()));
    for (std::size_t i = 0; i < procs->size(); ++i) procs->set_executable(i, o.executable);
  }

  // Users: one per client (player 1 of its games) and one opponent for every game.
  HttpClient http(ports[0]);
  std::vector<User> users;
  for (std::size_t c = 0; c < o.clients; ++c) {
    auto u = create_user(http, fmt::format("client{}", c));
    if (!u) return err(u.error());
    users.push_back(u.value());
  }
  auto opponent = create_user(http, "opponent");
  if (!opponent) return err(opponent.error());

  std::vector<SessionRecord> records(o.sessions);
  for (std::size_t i = 0; i < o.sessions; ++i) {
    records[i].game_id = fmt::format("b{}", i);
    records[i].client = i % o.clients;
  }
  const auto setup_began = std::chrono::steady_clock::now();
  auto created = create_games(ports, procs->admin_token(), records, users, opponent.value(),
                              progress, "setup");
  if (!created) return err(created.error());
  const double setup_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_began).count();
  progress(fmt::format("setup: {} games in {:.1f} s", o.sessions, setup_s));
  out["setup_s"] = std::round(setup_s * 10) / 10;

  std::optional<DatabaseLagWatch> lag_watch;
  if (database) lag_watch.emplace(ports);
  WsLoad load(ports, records, [&](const std::string& line) { progress(line); });
  std::map<std::string, std::uint64_t> error_codes;
  const auto add_codes = [&](const PhaseFigures& f) {
    for (const auto& [code, n] : f.error_codes) error_codes[code] += n;
  };
  const auto run_for = [&](double seconds) {
    return [&load, seconds] {
      sleep_s(seconds);
      load.stop();
    };
  };
  // The nodes' CPU time over a throughput phase's measured part (after its ramp-up), per 1,000
  // acknowledged actions: what an action costs, which a busy machine's noise moves much less
  // than the throughput.
  double phase_cpu_ms = 0;
  const auto measure_cpu_for = [&](double seconds) {
    return [&load, &procs, &phase_cpu_ms, seconds] {
      sleep_s(0.5);
      const double before = nodes_cpu_ms(*procs);
      sleep_s(seconds);
      phase_cpu_ms = nodes_cpu_ms(*procs) - before;
      load.stop();
    };
  };

  // Phases 1 and 2: one node's WebSocket, games hosted there or elsewhere.
  if (o.phase_s > 0) {
    const std::string& target = procs->name(0);
    const auto clients_on_node0 = [&](bool local) {
      std::vector<ClientSpec> specs(o.clients);
      for (std::size_t c = 0; c < o.clients; ++c) {
        specs[c].token = users[c].token;
        specs[c].first_node = 0;
      }
      for (std::size_t i = 0; i < records.size(); ++i) {
        if ((records[i].host == target) == local) specs[records[i].client].sessions.push_back(i);
      }
      std::erase_if(specs, [](const ClientSpec& s) { return s.sessions.empty(); });
      return specs;
    };
    json::object actions_per_s, cpu_per_1k;
    for (const bool local : {true, false}) {
      PhaseSpec spec;
      spec.name = local ? "throughput (local)" : "throughput (forwarded)";
      spec.clients = clients_on_node0(local);
      spec.window = o.window;
      spec.measure_from_ns = WsLoad::now_ns() + 500'000'000;  // after a ramp-up of 0.5 s
      if (spec.clients.empty()) {
        actions_per_s[local ? "local" : "forwarded"] = 0;
        continue;
      }
      const PhaseFigures f = load.run_phase(spec, measure_cpu_for(o.phase_s));
      add_codes(f);
      // The actions of the CPU's window, at the measured rate.
      const double actions = rate(f) * o.phase_s;
      const double cpu = actions > 0 ? phase_cpu_ms / actions * 1000.0 : 0.0;
      progress(fmt::format("{}: {:.0f} acknowledged actions/s, {:.0f} ms of node CPU per 1,000",
                           spec.name, rate(f), cpu));
      actions_per_s[local ? "local" : "forwarded"] = std::round(rate(f));
      cpu_per_1k[local ? "local" : "forwarded"] = std::round(cpu * 10) / 10;
      if (local) out["latency_ms_closed_loop"] = percentiles(f.latency_ms);
    }
    out["actions_per_s"] = actions_per_s;
    out["node_cpu_ms_per_1k_actions"] = cpu_per_1k;

    PhaseSpec spec;
    spec.name = "latency at half load";
    spec.clients = clients_on_node0(true);
    spec.window = o.window;
    const double half = actions_per_s["local"].to_number<double>() / 2;
    if (!spec.clients.empty() && half > 0) {
      spec.rate_per_client = half / static_cast<double>(spec.clients.size());
      spec.measure_from_ns = WsLoad::now_ns() + 500'000'000;
      const PhaseFigures f = load.run_phase(spec, run_for(o.phase_s + 0.5));
      add_codes(f);
      json::object lat = percentiles(f.latency_ms);
      lat["offered_per_s"] = std::round(half);
      lat["achieved_per_s"] = std::round(rate(f));
      lat["skipped_sends"] = f.skipped_sends;
      progress(fmt::format("latency at {:.0f}/s: p50 {:.3f} ms, p99 {:.3f} ms", half,
                           lat["p50"].to_number<double>(), lat["p99"].to_number<double>()));
      out["latency_ms"] = lat;
    }
  }

  // Phase 3: rolling restart under load.
  PhaseSpec spec;
  spec.name = "rolling restart";
  spec.window = o.window;
  spec.clients.resize(o.clients);
  for (std::size_t c = 0; c < o.clients; ++c) {
    spec.clients[c].token = users[c].token;
    spec.clients[c].first_node = c % o.nodes;
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    spec.clients[records[i].client].sessions.push_back(i);
  }
  json::array drain_ms, exit_codes;
  std::map<std::string, double> router_counters;
  std::string restart_error;
  std::int64_t window_begin = 0, window_end = 0;
  const std::int64_t load_began = WsLoad::now_ns();
  spec.measure_from_ns = load_began;
  const auto baseline_ns = static_cast<std::int64_t>(o.baseline_s * 1e9);
  load.mark_baseline(load_began + std::min<std::int64_t>(500'000'000, baseline_ns / 2),
                     load_began + baseline_ns);
  const PhaseFigures f = load.run_phase(spec, [&] {
    sleep_s(o.baseline_s);
    window_begin = WsLoad::now_ns();
    load.mark_window(window_begin, 0);
    for (std::size_t i = 0; i < procs->size() && restart_error.empty(); ++i) {
      const std::string verb = o.kill ? "killing" : "stopping";
      load.set_status(fmt::format("{} {}", verb, procs->name(i)));
      load.set_node_down(i, true);
      if (std::getenv("MINOTAUR_BENCH_TRACE")) {
        progress(fmt::format("TRACE t={:.3f} signal {}",
                             static_cast<double>(WsLoad::now_ns() % 1'000'000'000'000) / 1e9,
                             procs->name(i)));
      }
      add_router_counters(procs->http_port(i), router_counters);
      int code = 0;
      auto ms = procs->stop(i, o.kill ? SIGKILL : SIGTERM, code);
      if (!ms) {
        restart_error = ms.error();
        break;
      }
      drain_ms.push_back(std::round(ms.value() * 10) / 10);
      exit_codes.push_back(code);
      progress(fmt::format("{} exited {} ms after {} (exit code {})", procs->name(i),
                           std::round(ms.value()), o.kill ? "SIGKILL" : "SIGTERM", code));
      load.set_status(fmt::format("starting {}", procs->name(i)));
      auto r = procs->restart(i);
      if (!r) {
        restart_error = r.error();
        break;
      }
      load.set_node_down(i, false);
      if (std::getenv("MINOTAUR_BENCH_TRACE")) {
        progress(fmt::format("TRACE t={:.3f} ready {}",
                             static_cast<double>(WsLoad::now_ns() % 1'000'000'000'000) / 1e9,
                             procs->name(i)));
      }
      load.set_status(fmt::format("{} back; waiting for the cluster to be whole", procs->name(i)));
      if (!wait_whole(*procs)) {
        progress(fmt::format("warning: the cluster did not show {} members up within 30 s",
                             procs->size()));
      }
      load.set_status(fmt::format("{} back; settling", procs->name(i)));
      sleep_s(o.settle_s);
    }
    window_end = WsLoad::now_ns();
    load.mark_window(window_begin, window_end);
    load.set_status("");
    const double left_s = o.duration_s - static_cast<double>(window_end - load_began) / 1e9;
    if (left_s > 0) sleep_s(left_s);
  });
  add_codes(f);
  const std::int64_t load_ended = f.stopped_ns;
  if (!restart_error.empty()) return err(restart_error);

  std::vector<double> pause, stall, baseline;
  std::uint64_t acked = 0;
  for (SessionRecord& s : records) {
    acked += s.acked_versions.size() + s.lost_in_run;
    double gap = s.max_gap_ms;
    // No ack after the window: the gap runs from the last ack (or the window) to the end.
    if (s.last_ack_ns < window_end) {
      gap = std::max(gap,
                     static_cast<double>(load_ended - std::max(s.last_ack_ns, window_begin)) / 1e6);
    }
    double st = s.max_stall_ms;
    if (s.pending && s.first_attempt_ns <= window_end) {
      st = std::max(st, static_cast<double>(load_ended - s.first_attempt_ns) / 1e6);
    }
    pause.push_back(gap);
    if (st >= 0) stall.push_back(st);  // only sessions that had a call during the restarts
    baseline.push_back(s.baseline_gap_ms);
  }
  out["pause_ms"] = percentiles(pause);
  out["stall_ms"] = percentiles(stall);
  out["baseline_gap_ms"] = percentiles(baseline);
  out["drain_ms"] = drain_ms;
  out["exit_codes"] = exit_codes;
  out["to_build"] = builds_listed_by(ports[0]);
  out["restart_window_s"] = std::round(static_cast<double>(window_end - window_begin) / 1e8) / 10;
  out["duration_s"] = std::round(static_cast<double>(load_ended - load_began) / 1e8) / 10;
  out["load_actions_per_s"] = std::round(static_cast<double>(f.acks) /
                                         (static_cast<double>(load_ended - load_began) / 1e9));
  out["retries"] = f.retries;
  out["reconnects"] = f.reconnects;

  for (std::size_t i = 0; i < procs->size(); ++i) {
    add_router_counters(procs->http_port(i), router_counters);
  }
  json::object counters_json;
  for (const auto& [k, n] : router_counters) counters_json[k] = n;
  out["router_counters"] = counters_json;
  if (lag_watch) {
    out["database_lag"] = lag_watch->result();
    progress(
        fmt::format("database: lag p50 {} ms, p99 {} ms, max {} ms; at most {} sessions queued",
                    out["database_lag"].at("lag_ms").at("p50").to_number<double>(),
                    out["database_lag"].at("lag_ms").at("p99").to_number<double>(),
                    out["database_lag"].at("lag_ms").at("max").to_number<double>(),
                    out["database_lag"].at("queue_max").to_number<double>()));
  }

  // Phase 4: read every game back.
  const Verdict v = check_losses(ports, records, progress);
  out["acked_actions"] = acked;
  out["lost_actions"] = v.lost_actions;
  out["lost_sessions"] = v.lost_sessions;
  out["unreadable_sessions"] = v.unreadable;
  out["encoded_game_bytes"] = v.encoded_game_bytes;
  out["error_answers"] = codes_json(error_codes);
  // The cluster goes (SIGKILL: its work is done); its logs too, unless asked for or needed.
  if (!o.keep_logs && v.lost_actions == 0 && v.lost_sessions == 0 && v.unreadable == 0) {
    procs->remove_dir();
  } else {
    progress(fmt::format("the nodes' logs stay in {}", procs->dir()));
  }
  procs.reset();

  // Phase 5: memory per idle session on one node.
  if (o.memory_sessions > 0) {
    auto m = memory_phase(o, progress);
    if (!m) return err(m.error());
    for (const auto& kv : m.value()) out[kv.key()] = kv.value();
  }
  return json::serialize(out);
}

}  // namespace minotaur::bench
