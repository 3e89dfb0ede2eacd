#include "game/validate.h"

#include <fmt/format.h>

#include <set>

#include "game/join_code.h"

namespace minotaur::game {
namespace {

// Bounds first: hex math on unbounded int32 (from outside bytes) would overflow.
bool on_this_board(Hex h, std::int32_t radius) {
  const auto in_bounds = [](std::int32_t v) {
    return v >= -kMaxBoardRadius && v <= kMaxBoardRadius;
  };
  return in_bounds(h.q) && in_bounds(h.r) && on_board(h, radius);
}

}  // namespace

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<Ok, std::string> validate(const Game& g) {
  if (!is_valid_id(g.id)) return err(std::string("id must be 1-64 characters of A-Z a-z 0-9 _ -"));
  if (!g.join_code.empty() && !is_join_code(g.join_code)) {
    return err(std::string("join_code must be 4 capital letters, or empty"));
  }
  if (g.board_radius < kMinBoardRadius || g.board_radius > kMaxBoardRadius) {
    return err(fmt::format("board_radius must be {} to {}", kMinBoardRadius, kMaxBoardRadius));
  }
  if (g.round < 1) return err(std::string("round must be at least 1"));
  if (g.players.size() < kMinPlayers || g.players.size() > kMaxPlayers) {
    return err(fmt::format("a game has {} to {} players", kMinPlayers, kMaxPlayers));
  }
  if (g.round_ends_at_ms < 0 || g.round_ends_at_ms > kMaxTimestampMs) {
    return err(
        fmt::format("round_ends_at_ms must be 0 to {} (ms since 1970, at most the year 9999)",
                    kMaxTimestampMs));
  }
  std::set<PlayerId> ids;
  std::set<std::string_view> users;
  std::size_t alive = 0;
  for (std::size_t i = 0; i < g.players.size(); ++i) {
    const Player& p = g.players[i];
    if (i > 0 && g.players[i - 1].id >= p.id) {
      return err(std::string("players must be ordered by id, ids unique"));
    }
    if (p.id < 1) return err(fmt::format("players[{}].id must be positive", i));
    if (!is_valid_id(p.user_id)) {
      return err(fmt::format("players[{}].user_id must be 1-64 characters of A-Z a-z 0-9 _ -", i));
    }
    if (!users.insert(p.user_id).second) {
      return err(fmt::format("players[{}].user_id appears twice; one character per user", i));
    }
    if (p.display_name.empty() || p.display_name.size() > kMaxDisplayNameBytes) {
      return err(fmt::format("players[{}].display_name must be 1-64 bytes", i));
    }
    if (p.health < 0 || p.health > kStartingHealth) {
      return err(fmt::format("players[{}].health must be 0 to {}", i, kStartingHealth));
    }
    if (p.action_points < 0 || p.action_points > kMaxActionPoints) {
      return err(fmt::format("players[{}].action_points must be 0 to {}", i, kMaxActionPoints));
    }
    if (!on_this_board(p.coord, g.board_radius)) {
      return err(fmt::format("players[{}].coord is off the board", i));
    }
    ids.insert(p.id);
    if (p.alive()) ++alive;
  }
  const bool concluded = g.status == Status::kConcluded;
  if (!concluded && alive < 2) {
    return err(std::string("an active game needs at least 2 living players"));
  }
  if (g.winner_player_id) {
    const Player* w = find_player(g, *g.winner_player_id);
    if (!concluded || w == nullptr || !w->alive()) {
      return err(std::string("winner_player_id must be a living player of a concluded game"));
    }
  }
  if (concluded && !g.registered_actions.empty()) {
    return err(std::string("a concluded game has no registered actions"));
  }
  for (std::size_t i = 0; i < g.registered_actions.size(); ++i) {
    const RegisteredAction& a = g.registered_actions[i];
    if (i > 0 && g.registered_actions[i - 1].player_id >= a.player_id) {
      return err(std::string("registered_actions must be ordered by player id, one each"));
    }
    const Player* p = find_player(g, a.player_id);
    if (p == nullptr || !p->alive() || p->action_points < 1) {
      return err(fmt::format(
          "registered_actions[{}] must belong to a living player with an action point", i));
    }
    if (const Move* m = std::get_if<Move>(&a.action)) {
      if (!is_unit_vector(m->vector) || !on_board(p->coord + m->vector, g.board_radius)) {
        return err(fmt::format("registered_actions[{}] must move one step onto the board", i));
      }
    } else {
      const PlayerId target = std::get<Attack>(a.action).target_player_id;
      if (target == p->id || ids.count(target) == 0) {
        return err(fmt::format("registered_actions[{}] must target another player", i));
      }
    }
  }
  for (const Player& p : g.players) {
    if (p.ready && (concluded || !p.alive())) {
      return err(std::string("only living players of an active game are ready"));
    }
  }
  if (g.last_resolved_round < 0 || g.last_resolved_round > g.round ||
      (g.last_resolved_round == 0 && !g.last_round_events.empty())) {
    return err(std::string("last_resolved_round must be 0 (none yet, no events) to round"));
  }
  if (g.last_round_events.size() > kMaxRoundEvents) {
    return err(fmt::format("last_round_events: at most {}", kMaxRoundEvents));
  }
  for (std::size_t i = 0; i < g.last_round_events.size(); ++i) {
    const RoundEvent& e = g.last_round_events[i];
    const bool attack = e.kind == RoundEvent::Kind::kHit || e.kind == RoundEvent::Kind::kMiss;
    if (ids.count(e.player_id) == 0 || (attack && ids.count(e.target_player_id) == 0)) {
      return err(fmt::format("last_round_events[{}] must name players of the game", i));
    }
    if (e.kind == RoundEvent::Kind::kMove &&
        (!on_this_board(e.from, g.board_radius) || !on_this_board(e.to, g.board_radius))) {
      return err(fmt::format("last_round_events[{}] must move on the board", i));
    }
  }
  return Ok{};
}

}  // namespace minotaur::game
