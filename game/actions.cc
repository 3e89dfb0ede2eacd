#include "game/actions.h"

#include <algorithm>

namespace minotaur::game {
namespace {

// The checks every action shares; on success, the acting player.
Result<const Player*, ActionError> acting_player(const Game& game, std::string_view user_id) {
  if (game.status == Status::kConcluded) return err(ActionError::kGameOver);
  const Player* p = find_player_of_user(game, user_id);
  if (p == nullptr) return err(ActionError::kNotAPlayer);
  if (!p->alive()) return err(ActionError::kPlayerEliminated);
  if (p->action_points < 1) return err(ActionError::kNoActionPoints);
  return p;
}

// Puts the action in its place (ordered by player id), replacing the player's earlier one.
void put_action(Game& game, RegisteredAction action) {
  auto& list = game.registered_actions;
  auto it =
      std::lower_bound(list.begin(), list.end(), action.player_id,
                       [](const RegisteredAction& a, PlayerId id) { return a.player_id < id; });
  if (it != list.end() && it->player_id == action.player_id) {
    *it = std::move(action);
  } else {
    list.insert(it, std::move(action));
  }
  ++game.version;
}

}  // namespace

Result<Ok, ActionError> register_move(Game& game, std::string_view user_id, Hex vector) {
  auto player = acting_player(game, user_id);
  if (!player) return err(player.error());
  if (!is_unit_vector(vector)) return err(ActionError::kNotAUnitVector);
  if (!on_board(player.value()->coord + vector, game.board_radius)) {
    return err(ActionError::kOffBoard);
  }
  put_action(game, RegisteredAction{player.value()->id, Move{vector}});
  return Ok{};
}

Result<Ok, ActionError> register_attack(Game& game, std::string_view user_id,
                                        PlayerId target_player_id) {
  auto player = acting_player(game, user_id);
  if (!player) return err(player.error());
  const Player* target = find_player(game, target_player_id);
  if (target == nullptr) return err(ActionError::kUnknownTarget);
  if (target->id == player.value()->id) return err(ActionError::kTargetIsSelf);
  if (!target->alive()) return err(ActionError::kTargetEliminated);
  if (distance(target->coord, player.value()->coord) > 1) {
    return err(ActionError::kTargetOutOfRange);
  }
  put_action(game, RegisteredAction{player.value()->id, Attack{target_player_id}});
  return Ok{};
}

Result<Ok, ActionError> register_action(Game& game, std::string_view user_id,
                                        const Action& action) {
  if (const Move* m = std::get_if<Move>(&action)) return register_move(game, user_id, m->vector);
  return register_attack(game, user_id, std::get<Attack>(action).target_player_id);
}

const RegisteredAction* registered_action_of(const Game& game, PlayerId player_id) {
  for (const RegisteredAction& a : game.registered_actions) {
    if (a.player_id == player_id) return &a;
  }
  return nullptr;
}

}  // namespace minotaur::game
