#include "game/round.h"

#include <algorithm>
#include <map>

#include "base/assert.h"
#include "game/actions.h"

namespace minotaur::game {

Result<RoundOutcome, ActionError> end_round(Game& game, std::int64_t next_round_ends_at_ms) {
  if (game.status == Status::kConcluded) return err(ActionError::kGameOver);

  RoundOutcome outcome;
  outcome.resolved_round = game.round;

  std::vector<RoundEvent> events;

  // 1. All moves at once. Each was checked on registration and positions change only here, so
  //    every move still lands on the board.
  for (const RegisteredAction& a : game.registered_actions) {
    if (const Move* m = std::get_if<Move>(&a.action)) {
      Player* p = find_player(game, a.player_id);
      MINOTAUR_ASSERT(p != nullptr);
      const Hex from = p->coord;
      p->coord = p->coord + m->vector;
      MINOTAUR_ASSERT(on_board(p->coord, game.board_radius));
      events.push_back({RoundEvent::Kind::kMove, p->id, 0, from, p->coord});
    }
  }

  // 2. Attacks, against positions after the moves, all simultaneous.
  std::map<PlayerId, std::int32_t> damage;
  for (const RegisteredAction& a : game.registered_actions) {
    if (const Attack* at = std::get_if<Attack>(&a.action)) {
      const Player* attacker = find_player(game, a.player_id);
      const Player* target = find_player(game, at->target_player_id);
      MINOTAUR_ASSERT(attacker != nullptr && target != nullptr);
      const bool hit = target->alive() && distance(attacker->coord, target->coord) <= 1;
      if (hit) ++damage[target->id];
      events.push_back({hit ? RoundEvent::Kind::kHit : RoundEvent::Kind::kMiss,
                        attacker->id,
                        target->id,
                        {},
                        {}});
    }
  }
  for (const auto& [id, amount] : damage) {
    Player* p = find_player(game, id);
    p->health = std::max(0, p->health - amount);
    if (!p->alive()) {
      outcome.eliminated.push_back(id);
      events.push_back({RoundEvent::Kind::kEliminated, id, 0, {}, {}});
    }
  }
  game.last_resolved_round = game.round;
  game.last_round_events = std::move(events);
  for (Player& p : game.players) p.ready = false;

  // Spent action points.
  for (const RegisteredAction& a : game.registered_actions) {
    Player* p = find_player(game, a.player_id);
    MINOTAUR_ASSERT(p->action_points >= 1);
    --p->action_points;
  }
  game.registered_actions.clear();

  // 3-4. Eliminations decide whether the game goes on.
  const auto alive = std::count_if(game.players.begin(), game.players.end(),
                                   [](const Player& p) { return p.alive(); });
  if (alive <= 1) {
    game.status = Status::kConcluded;
    outcome.concluded = true;
    for (const Player& p : game.players) {
      if (p.alive()) game.winner_player_id = p.id;
    }
  } else {
    ++game.round;
    for (Player& p : game.players) {
      if (p.alive()) p.action_points = std::min(p.action_points + 1, kMaxActionPoints);
    }
    game.round_ends_at_ms = next_round_ends_at_ms;
  }
  ++game.version;
  return outcome;
}

Result<ReadyOutcome, ActionError> player_ends_round(Game& game, std::string_view user_id,
                                                    std::int64_t next_round_ends_at_ms) {
  if (game.status == Status::kConcluded) return err(ActionError::kGameOver);
  const Player* player = find_player_of_user(game, user_id);
  if (player == nullptr) return err(ActionError::kNotAPlayer);
  Player* p = find_player(game, player->id);
  if (!p->alive()) return err(ActionError::kPlayerEliminated);
  ReadyOutcome out;
  out.changed = !p->ready;
  p->ready = true;
  const bool everyone = std::all_of(game.players.begin(), game.players.end(),
                                    [](const Player& q) { return !q.alive() || q.ready; });
  if (everyone) {
    auto resolved = end_round(game, next_round_ends_at_ms);  // one version for both
    MINOTAUR_ASSERT(resolved.ok());                          // active, checked above
    out.changed = true;
    out.resolved = resolved.value();
  } else if (out.changed) {
    ++game.version;
  }
  return out;
}

}  // namespace minotaur::game
