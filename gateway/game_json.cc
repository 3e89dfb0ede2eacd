#include "gateway/game_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "base/assert.h"
#include "game/validate.h"
#include "gateway/json_fields.h"
#include "gateway/strict_json.h"

namespace minotaur::gateway {
namespace json = boost::json;

namespace {

constexpr std::int64_t kInt32Min = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();

json::object hex_json(game::Hex h) {
  return json::object{{"q", h.q}, {"r", h.r}};
}

Result<game::Hex, std::string> hex_from(const JsonFields& parent, std::string_view key) {
  auto obj = parent.require_object(key);
  if (!obj) return err(obj.error());
  const JsonFields f(*obj.value(), parent.name(key));
  auto q = f.require_int("q", kInt32Min, kInt32Max);
  if (!q) return err(q.error());
  auto r = f.require_int("r", kInt32Min, kInt32Max);
  if (!r) return err(r.error());
  return game::Hex{static_cast<std::int32_t>(q.value()), static_cast<std::int32_t>(r.value())};
}

Result<game::Player, std::string> player_from(const json::value& v, std::string path) {
  if (!v.is_object()) return err(path + " must be an object");
  const JsonFields f(v.get_object(), path);
  game::Player p;
  auto id = f.require_int("id", 1, kInt32Max);
  if (!id) return err(id.error());
  p.id = static_cast<game::PlayerId>(id.value());
  auto user = f.require_string("user_id");
  if (!user) return err(user.error());
  p.user_id = std::move(user.value());
  auto name = f.require_string("display_name");
  if (!name) return err(name.error());
  p.display_name = std::move(name.value());
  auto coord = hex_from(f, "coord");
  if (!coord) return err(coord.error());
  p.coord = coord.value();
  auto health = f.optional_int("health", 0, game::kStartingHealth);
  if (!health) return err(health.error());
  p.health = static_cast<std::int32_t>(health.value().value_or(game::kStartingHealth));
  auto ap = f.optional_int("action_points", 0, game::kMaxActionPoints);
  if (!ap) return err(ap.error());
  p.action_points = static_cast<std::int32_t>(ap.value().value_or(game::kStartingActionPoints));
  if (const json::value* ready = v.get_object().if_contains("ready")) {
    if (!ready->is_bool()) return err(f.name("ready") + " must be true or false");
    p.ready = ready->get_bool();
  }
  return p;
}

Result<game::RoundEvent, std::string> event_from(const json::value& v, const std::string& path) {
  if (!v.is_object()) return err(path + " must be an object");
  const JsonFields f(v.get_object(), path);
  auto type = f.require_string("type");
  if (!type) return err(type.error());
  auto player = f.require_int("player_id", 1, kInt32Max);
  if (!player) return err(player.error());
  game::RoundEvent e;
  e.player_id = static_cast<game::PlayerId>(player.value());
  if (type.value() == "move") {
    e.kind = game::RoundEvent::Kind::kMove;
    auto from = hex_from(f, "from");
    if (!from) return err(from.error());
    auto to = hex_from(f, "to");
    if (!to) return err(to.error());
    e.from = from.value();
    e.to = to.value();
  } else if (type.value() == "hit" || type.value() == "miss") {
    e.kind = type.value() == "hit" ? game::RoundEvent::Kind::kHit : game::RoundEvent::Kind::kMiss;
    auto target = f.require_int("target_player_id", 1, kInt32Max);
    if (!target) return err(target.error());
    e.target_player_id = static_cast<game::PlayerId>(target.value());
  } else if (type.value() == "eliminated") {
    e.kind = game::RoundEvent::Kind::kEliminated;
  } else {
    return err(f.name("type") + " must be \"move\", \"hit\", \"miss\" or \"eliminated\"");
  }
  return e;
}

// {"type": "move", "player_id", "from", "to"}, {"type": "hit" | "miss", "player_id",
// "target_player_id"} (a miss: "reason": "out_of_range", its target was no longer within distance
// 1 after the moves), {"type": "eliminated", "player_id"}.
json::object event_json(const game::RoundEvent& e) {
  switch (e.kind) {
    case game::RoundEvent::Kind::kMove:
      return {{"type", "move"},
              {"player_id", e.player_id},
              {"from", hex_json(e.from)},
              {"to", hex_json(e.to)}};
    case game::RoundEvent::Kind::kHit:
      return {
          {"type", "hit"}, {"player_id", e.player_id}, {"target_player_id", e.target_player_id}};
    case game::RoundEvent::Kind::kMiss:
      return {{"type", "miss"},
              {"player_id", e.player_id},
              {"target_player_id", e.target_player_id},
              {"reason", "out_of_range"}};
    case game::RoundEvent::Kind::kEliminated:
      return {{"type", "eliminated"}, {"player_id", e.player_id}};
  }
  MINOTAUR_ASSERT(false);
  return {};
}

}  // namespace

json::object to_json(const game::Game& g) {
  json::array players;
  for (const game::Player& p : g.players) {
    players.push_back(json::object{{"id", p.id},
                                   {"user_id", p.user_id},
                                   {"display_name", p.display_name},
                                   {"health", p.health},
                                   {"action_points", p.action_points},
                                   {"coord", hex_json(p.coord)},
                                   {"ready", p.ready}});
  }
  json::array actions;
  for (const game::RegisteredAction& a : g.registered_actions) {
    if (const auto* m = std::get_if<game::Move>(&a.action)) {
      actions.push_back(json::object{
          {"player_id", a.player_id}, {"type", "move"}, {"vector", hex_json(m->vector)}});
    } else {
      actions.push_back(
          json::object{{"player_id", a.player_id},
                       {"type", "attack"},
                       {"target_player_id", std::get<game::Attack>(a.action).target_player_id}});
    }
  }
  json::object out{
      {"id", g.id},
      {"join_code", g.join_code},
      {"status", g.status == game::Status::kActive ? "active" : "concluded"},
      {"round", g.round},
      {"round_ends_at_ms", g.round_ends_at_ms},
      {"board_radius", g.board_radius},
      {"players", std::move(players)},
      {"registered_actions", std::move(actions)},
      {"winner_player_id", nullptr},
      {"version", g.version},
  };
  if (g.winner_player_id) out["winner_player_id"] = *g.winner_player_id;
  out["last_round"] = nullptr;
  if (g.last_resolved_round > 0) {
    json::array events;
    for (const game::RoundEvent& e : g.last_round_events) events.push_back(event_json(e));
    out["last_round"] =
        json::object{{"round", g.last_resolved_round}, {"events", std::move(events)}};
  }
  return out;
}

json::object to_json(const game::Lobby& l) {
  json::array members;
  for (const game::LobbyMember& m : l.members) {
    members.push_back(json::object{{"user_id", m.user_id}, {"display_name", m.display_name}});
  }
  json::object out{
      {"join_code", l.join_code},
      {"host_user_id", l.host_user_id},
      {"members", std::move(members)},
      {"status", l.status == game::LobbyStatus::kOpen ? "open" : "started"},
      {"game_id", nullptr},
      {"version", l.version},
  };
  if (!l.game_id.empty()) out["game_id"] = l.game_id;
  return out;
}

Result<json::value, std::string> parse_json(std::string_view body) {
  return parse_strict_json(body, kMaxJsonDepth);
}

Result<game::Game, std::string> game_from_json(const json::value& v) {
  if (!v.is_object()) return err(std::string("the body must be a JSON object (a game)"));
  const JsonFields f(v.get_object(), "");
  game::Game g;
  auto id = f.require_string("id");
  if (!id) return err(id.error());
  g.id = std::move(id.value());

  auto players = f.require_array("players");
  if (!players) return err(players.error());
  if (players.value()->size() > game::kMaxPlayers) {
    return err(
        fmt::format("players must hold {} to {} players", game::kMinPlayers, game::kMaxPlayers));
  }
  for (std::size_t i = 0; i < players.value()->size(); ++i) {
    auto p = player_from((*players.value())[i], fmt::format("players[{}]", i));
    if (!p) return err(p.error());
    g.players.push_back(std::move(p.value()));
  }
  std::sort(g.players.begin(), g.players.end(),
            [](const game::Player& a, const game::Player& b) { return a.id < b.id; });

  auto code = f.optional_string("join_code");
  if (!code) return err(code.error());
  g.join_code = code.value().value_or("");
  auto status = f.optional_string("status");
  if (!status) return err(status.error());
  const std::string s = status.value().value_or("active");
  if (s == "active") {
    g.status = game::Status::kActive;
  } else if (s == "concluded") {
    g.status = game::Status::kConcluded;
  } else {
    return err(std::string("status must be \"active\" or \"concluded\""));
  }
  auto round = f.optional_int("round", 1, kInt32Max);
  if (!round) return err(round.error());
  g.round = static_cast<std::int32_t>(round.value().value_or(1));
  auto ends = f.optional_int("round_ends_at_ms", 0, std::numeric_limits<std::int64_t>::max());
  if (!ends) return err(ends.error());
  g.round_ends_at_ms = ends.value().value_or(0);
  auto radius = f.optional_int("board_radius", game::kMinBoardRadius, game::kMaxBoardRadius);
  if (!radius) return err(radius.error());
  g.board_radius = static_cast<std::int32_t>(radius.value().value_or(game::kDefaultBoardRadius));
  auto version = f.optional_int("version", 0, std::numeric_limits<std::int64_t>::max());
  if (!version) return err(version.error());
  g.version = static_cast<std::uint64_t>(version.value().value_or(0));

  if (const json::value* w = v.get_object().if_contains("winner_player_id"); w && !w->is_null()) {
    auto id_or = strict_int(*w, 1, kInt32Max);
    if (!id_or) return err(std::string("winner_player_id must be null or a player id"));
    g.winner_player_id = static_cast<game::PlayerId>(*id_or);
  }

  auto actions = f.optional_array("registered_actions");
  if (!actions) return err(actions.error());
  if (actions.value() != nullptr) {
    if (actions.value()->size() > game::kMaxPlayers) {
      return err(std::string("registered_actions holds at most one action per player"));
    }
    for (std::size_t i = 0; i < actions.value()->size(); ++i) {
      const json::value& av = (*actions.value())[i];
      const std::string path = fmt::format("registered_actions[{}]", i);
      if (!av.is_object()) return err(path + " must be an object");
      const JsonFields af(av.get_object(), path);
      auto pid = af.require_int("player_id", 1, kInt32Max);
      if (!pid) return err(pid.error());
      auto action = action_from_json(av);
      if (!action) return err(path + ": " + action.error());
      g.registered_actions.push_back(
          game::RegisteredAction{static_cast<game::PlayerId>(pid.value()), action.value()});
    }
    std::sort(g.registered_actions.begin(), g.registered_actions.end(),
              [](const auto& a, const auto& b) { return a.player_id < b.player_id; });
  }

  if (const json::value* last = v.get_object().if_contains("last_round");
      last && !last->is_null()) {
    if (!last->is_object()) return err(std::string("last_round must be null or an object"));
    const JsonFields lf(last->get_object(), "last_round");
    auto round_of = lf.require_int("round", 1, kInt32Max);
    if (!round_of) return err(round_of.error());
    g.last_resolved_round = static_cast<std::int32_t>(round_of.value());
    auto events = lf.require_array("events");
    if (!events) return err(events.error());
    if (events.value()->size() > game::kMaxRoundEvents) {
      return err(fmt::format("last_round.events holds at most {} events", game::kMaxRoundEvents));
    }
    for (std::size_t i = 0; i < events.value()->size(); ++i) {
      auto e = event_from((*events.value())[i], fmt::format("last_round.events[{}]", i));
      if (!e) return err(e.error());
      g.last_round_events.push_back(e.value());
    }
  }

  if (auto ok = game::validate(g); !ok) return err(ok.error());
  return g;
}

Result<game::Action, std::string> action_from_json(const json::value& v) {
  if (!v.is_object()) return err(std::string("the action must be a JSON object"));
  const JsonFields f(v.get_object(), "");
  auto type = f.require_string("type");
  if (!type) return err(type.error());
  if (type.value() == "move") {
    auto vec = hex_from(f, "vector");
    if (!vec) return err(vec.error());
    return game::Action{game::Move{vec.value()}};
  }
  if (type.value() == "attack") {
    auto target = f.require_int("target_player_id", kInt32Min, kInt32Max);
    if (!target) return err(target.error());
    return game::Action{game::Attack{static_cast<game::PlayerId>(target.value())}};
  }
  return err(std::string("type must be \"move\" or \"attack\""));
}

}  // namespace minotaur::gateway
