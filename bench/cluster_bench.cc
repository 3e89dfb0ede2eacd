#include "bench/cluster_bench.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench/ws_load.h"
#include "gateway/game_json.h"
#include "proto/codec.h"
#include "tooling/http_client.h"
#include "tooling/node_procs.h"

namespace minotaur::bench {
namespace {

namespace json = boost::json;
using Progress = std::function<void(std::string_view)>;
using tooling::HttpAnswer;
using tooling::HttpClient;
using tooling::NodeProcs;
using tooling::NodeProcsOptions;

void sleep_s(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

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

struct User {
  std::string id;
  std::string token;
};

Result<User, std::string> create_user(HttpClient& http, const std::string& name) {
  const auto a =
      http.request("POST", "/api/v1/users", json::serialize(json::object{{"display_name", name}}));
  if (a.status != 201) {
    return err(fmt::format("POST /api/v1/users answered {}: {}", a.status, a.body));
  }
  const auto j = a.json();
  return User{std::string(j.at("user_id").as_string()), std::string(j.at("token").as_string())};
}

std::string game_body(const std::string& id, const std::string& player1,
                      const std::string& player2) {
  json::array players;
  players.push_back(json::object{{"id", 1},
                                 {"user_id", player1},
                                 {"display_name", "p1"},
                                 {"coord", json::object{{"q", 0}, {"r", 0}}}});
  players.push_back(json::object{{"id", 2},
                                 {"user_id", player2},
                                 {"display_name", "p2"},
                                 {"coord", json::object{{"q", 0}, {"r", 0}}}});
  return json::serialize(json::object{{"id", id}, {"players", std::move(players)}});
}

// Calls fn(http, i) for every i below `count`, on a few threads that each hold one keep-alive
// connection to one of `ports`.
void on_threads(const std::vector<std::uint16_t>& ports, std::size_t count,
                const std::function<void(HttpClient&, std::size_t)>& fn) {
  constexpr std::size_t kThreads = 4;
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient http(ports[t % ports.size()]);
      for (std::size_t i = t; i < count; i += kThreads) fn(http, i);
    });
  }
  for (auto& th : threads) th.join();
}

// A call repeated (every 100 ms, 50 times at most) until `done` accepts its answer.
HttpAnswer until(HttpClient& http, const std::string& method, const std::string& path,
                 const std::string& body, const std::string& token,
                 const std::function<bool(const HttpAnswer&, int attempt)>& done) {
  HttpAnswer a;
  for (int attempt = 0; attempt < 50; ++attempt) {
    a = http.request(method, path, body, token);
    if (done(a, attempt)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return a;
}

// Creates the games of `records` (their game_id and client set), spread over `ports`; fills in
// each record's host. Retries what the cluster cannot take now.
Result<Ok, std::string> create_games(const std::vector<std::uint16_t>& ports,
                                     const std::string& admin_token,
                                     std::vector<SessionRecord>& records,
                                     const std::vector<User>& players, const User& opponent,
                                     const Progress& progress, const std::string& what) {
  std::atomic<std::size_t> done{0};
  std::atomic<bool> finished{false};
  std::mutex error_mutex;
  std::string error;
  std::thread reporter([&] {
    for (int tick = 1; !finished; ++tick) {
      sleep_s(0.1);
      if (tick % 10 == 0) {
        progress(fmt::format("{}: {} of {} games created", what, done.load(), records.size()));
      }
    }
  });
  on_threads(ports, records.size(), [&](HttpClient& http, std::size_t i) {
    SessionRecord& r = records[i];
    const HttpAnswer a = until(http, "POST", "/api/v1/games",
                               game_body(r.game_id, players[r.client].id, opponent.id), admin_token,
                               [](const HttpAnswer& x, int attempt) {
                                 // 409 after a retry: the attempt that got no answer did create it.
                                 return x.status == 201 || (x.status == 409 && attempt > 0);
                               });
    if (a.status == 201) {
      r.host = std::string(a.json().at("node").as_string());
    } else if (a.status != 409) {
      std::lock_guard lock(error_mutex);
      error = fmt::format("creating {} failed: {} {}; see the nodes' logs", r.game_id, a.status,
                          a.body);
    }
    ++done;
  });
  finished = true;
  reporter.join();
  if (!error.empty()) return err(error);
  return Ok{};
}

struct Verdict {
  std::uint64_t lost_actions = 0;
  std::uint64_t lost_sessions = 0;
  std::uint64_t unreadable = 0;
  std::size_t encoded_game_bytes = 0;
};

// What one game read back shows of what its client saw acknowledged: acknowledged actions lost.
std::uint64_t lost_actions_of(const SessionRecord& r, const json::value& g) {
  const auto version = static_cast<std::uint64_t>(g.at("version").as_int64());
  std::uint64_t lost = r.lost_in_run;
  for (const std::uint64_t v : r.acked_versions) lost += v > version ? 1 : 0;
  if (r.acked_versions.empty() || version < r.acked_versions.back()) return lost;
  int shown = -1;
  for (const auto& act : g.at("registered_actions").as_array()) {
    if (act.at("player_id").as_int64() != 1 || act.at("type").as_string() != "move") continue;
    const auto q = act.at("vector").at("q").as_int64();
    const auto rr = act.at("vector").at("r").as_int64();
    for (int k = 0; k < 6; ++k) {
      if (kUnitVectors[k][0] == q && kUnitVectors[k][1] == rr) shown = k;
    }
  }
  const bool as_acked = shown == r.last_acked_vector;
  // A later attempt that got no answer may have been applied (and bumped the version).
  const bool later_attempt = r.pending && version > r.acked_versions.back() &&
                             shown == static_cast<int>(r.next_action % 6);
  return lost + (as_acked || later_attempt ? 0 : 1);
}

// Reads every game back and compares it with what its client saw acknowledged.
Verdict check(const std::vector<std::uint16_t>& ports, const std::vector<SessionRecord>& records,
              const Progress& progress) {
  std::atomic<std::uint64_t> lost_actions{0}, lost_sessions{0}, unreadable{0};
  std::atomic<std::size_t> encoded{0};
  on_threads(ports, records.size(), [&](HttpClient& http, std::size_t i) {
    const SessionRecord& r = records[i];
    const HttpAnswer a =
        until(http, "GET", "/api/v1/games/" + r.game_id, "", "",
              [](const HttpAnswer& x, int) { return x.status == 200 || x.status == 404; });
    if (a.status == 404) {
      ++lost_sessions;
    } else if (a.status != 200) {
      ++unreadable;
    } else {
      const json::value g = a.json();
      if (i == 0) {
        auto parsed = gateway::game_from_json(g);
        if (parsed) encoded = proto::encode_game(parsed.value()).size();
      }
      lost_actions += lost_actions_of(r, g);
    }
  });
  progress(
      fmt::format("check: {} games read back; {} lost, {} unreadable, {} acknowledged "
                  "actions lost",
                  records.size(), lost_sessions.load(), unreadable.load(), lost_actions.load()));
  return Verdict{lost_actions, lost_sessions, unreadable, encoded};
}

// Router counters from a node's GET /metrics, added to `totals` (a node's counters start
// again at 0 when it restarts, so each incarnation is read once: before it stops, or at the end).
void add_router_counters(std::uint16_t port, std::map<std::string, double>& totals) {
  static const char* kNames[] = {"minotaur_forwarded_total", "minotaur_forward_timeouts_total",
                                 "minotaur_handoffs_sent_total", "minotaur_handoffs_received_total",
                                 "minotaur_waits_for_arrival_total"};
  const HttpAnswer a = HttpClient(port).request("GET", "/metrics");
  std::istringstream in(a.body);
  std::string name;
  double value = 0;
  while (in >> name) {
    if (name == "#") {
      std::getline(in, name);
      continue;
    }
    if (!(in >> value)) break;
    for (const char* k : kNames) {
      if (name == k) totals[name.substr(9, name.size() - 9 - 6)] += value;  // "forwarded"...
    }
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

double rate(const PhaseFigures& f) {
  return f.measured_s > 0 ? static_cast<double>(f.measured_acks) / f.measured_s : 0.0;
}

std::vector<std::uint16_t> ports_of(const NodeProcs& procs) {
  std::vector<std::uint16_t> out;
  for (std::size_t i = 0; i < procs.size(); ++i) out.push_back(procs.http_port(i));
  return out;
}

json::object codes_json(const std::map<std::string, std::uint64_t>& codes) {
  json::object o;
  for (const auto& [code, n] : codes) o[code] = n;
  return o;
}

// Phase 5: a fresh single node's memory per idle game.
Result<json::object, std::string> memory_phase(const ClusterBenchOptions& o,
                                               const Progress& progress) {
  NodeProcsOptions po;
  po.executable = o.executable;
  NodeProcs procs(po);
  progress(fmt::format("memory: starting one node; logs in {}", procs.dir()));
  auto started = procs.start(1);
  if (!started) return err(started.error());
  HttpClient http(procs.http_port(0));
  auto p1 = create_user(http, "mem1");
  auto p2 = create_user(http, "mem2");
  if (!p1 || !p2) return err(p1 ? p2.error() : p1.error());
  const std::vector<User> players{p1.value()};
  // A warm-up batch first, so that the figure leaves out what the first games pay once.
  constexpr std::size_t kWarmup = 200;
  std::vector<SessionRecord> warm(kWarmup);
  for (std::size_t i = 0; i < kWarmup; ++i) warm[i].game_id = fmt::format("w{}", i);
  auto w = create_games(ports_of(procs), procs.admin_token(), warm, players, p2.value(), progress,
                        "memory warm-up");
  if (!w) return err(w.error());
  sleep_s(1);
  const std::uint64_t before = procs.rss_bytes(0);
  std::vector<SessionRecord> records(o.memory_sessions);
  for (std::size_t i = 0; i < records.size(); ++i) records[i].game_id = fmt::format("m{}", i);
  auto c = create_games(ports_of(procs), procs.admin_token(), records, players, p2.value(),
                        progress, "memory");
  if (!c) return err(c.error());
  sleep_s(2);  // idle: replication ticks settle
  const std::uint64_t after = procs.rss_bytes(0);
  int exit_code = 0;
  (void)procs.stop(0, SIGKILL, exit_code);  // measured; nothing in it is needed any more
  const double per = static_cast<double>(after > before ? after - before : 0) /
                     static_cast<double>(records.size());
  progress(fmt::format("memory: RSS {} -> {} bytes for {} games: {:.0f} bytes per game", before,
                       after, records.size(), per));
  if (!o.keep_logs) procs.remove_dir();
  return json::object{{"bytes_per_session", std::round(per)},
                      {"memory_sessions", records.size()},
                      {"rss_before_bytes", before},
                      {"rss_after_bytes", after}};
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
                   {"replication", o.replication}, {"stop_signal", o.kill ? "SIGKILL" : "SIGTERM"}};

  NodeProcsOptions po;
  po.executable = o.executable;
  po.extra_args = {"--replication", o.replication};
  auto procs = std::make_unique<NodeProcs>(po);
  progress(
      fmt::format("starting {} nodes; secret, admin token and logs in {}", o.nodes, procs->dir()));
  auto started = procs->start(o.nodes);
  if (!started) return err(started.error());
  const std::vector<std::uint16_t> ports = ports_of(*procs);

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
    json::object actions_per_s;
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
      const PhaseFigures f = load.run_phase(spec, run_for(o.phase_s + 0.5));
      add_codes(f);
      progress(fmt::format("{}: {:.0f} acknowledged actions/s", spec.name, rate(f)));
      actions_per_s[local ? "local" : "forwarded"] = std::round(rate(f));
      if (local) out["latency_ms_closed_loop"] = percentiles(f.latency_ms);
    }
    out["actions_per_s"] = actions_per_s;

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

  // Phase 4: read every game back.
  const Verdict v = check(ports, records, progress);
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
