#include "bench/loss_check.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <boost/json.hpp>

#include "gateway/game_json.h"
#include "proto/codec.h"

namespace minotaur::bench {

namespace json = boost::json;

namespace {

// What one game read back shows of what its client saw acknowledged: acknowledged actions lost.
std::uint64_t lost_actions_of(const SessionRecord& r, const json::value& g) {
  const auto version = static_cast<std::uint64_t>(g.at("version").as_int64());
  std::uint64_t lost = r.lost_in_run;
  for (const std::uint64_t v : r.acked_versions) lost += v > version ? 1 : 0;
  if (!r.acked_versions.empty() && r.acked_versions.back() > version) {
    std::fprintf(stderr, "bench: LOST %s shows version %llu; version %llu was acknowledged\n",
                 r.game_id.c_str(), static_cast<unsigned long long>(version),
                 static_cast<unsigned long long>(r.acked_versions.back()));
  }
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
  if (!as_acked && !later_attempt) {
    std::fprintf(stderr,
                 "bench: LOST %s shows version %llu and move %d; its last acknowledged action "
                 "was version %llu, move %d\n",
                 r.game_id.c_str(), static_cast<unsigned long long>(version), shown,
                 static_cast<unsigned long long>(r.acked_versions.back()), r.last_acked_vector);
  }
  return lost + (as_acked || later_attempt ? 0 : 1);
}

}  // namespace

Verdict check_losses(const std::vector<std::uint16_t>& ports,
                     const std::vector<SessionRecord>& records, const Progress& progress) {
  std::atomic<std::uint64_t> lost_actions{0}, lost_sessions{0}, unreadable{0};
  std::atomic<std::size_t> encoded{0};
  on_threads(ports, records.size(), [&](HttpClient& http, std::size_t i) {
    const SessionRecord& r = records[i];
    const HttpAnswer a =
        call_until(http, "GET", "/api/v1/games/" + r.game_id, "", "",
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

}  // namespace minotaur::bench
