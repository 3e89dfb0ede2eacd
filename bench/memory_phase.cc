#include "bench/memory_phase.h"

#include <fmt/format.h>
#include <signal.h>

#include <cmath>

#include "tooling/http_client.h"
#include "tooling/node_procs.h"

namespace minotaur::bench {

namespace json = boost::json;

Result<json::object, std::string> memory_phase(const ClusterBenchOptions& o,
                                               const Progress& progress) {
  NodeProcsOptions po;
  po.executable = o.executable;
  po.data_dirs = o.data_dirs;
  if (!o.data_dir.empty()) po.data_dir_parent = o.data_dir + "/memory";
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

}  // namespace minotaur::bench
