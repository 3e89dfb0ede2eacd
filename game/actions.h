// Registering actions during a round (docs/SPEC.md section 1, "Registering").
//
// The acting player is named by its user: a user acts only for their own character. One action
// per player per round; registering again replaces the earlier one. Action points are checked
// here and deducted when the round resolves (round.h). Each call either accepts the action —
// the Game gets it and `version` grows by one — or refuses it and leaves the Game untouched.
#pragma once

#include <string_view>

#include "base/result.h"
#include "game/errors.h"
#include "game/game.h"

namespace minotaur::game {

Result<Ok, ActionError> register_move(Game& game, std::string_view user_id, Hex vector);

Result<Ok, ActionError> register_attack(Game& game, std::string_view user_id,
                                        PlayerId target_player_id);

// Either of the above, by the kind of action.
Result<Ok, ActionError> register_action(Game& game, std::string_view user_id, const Action& action);

// The action registered this round by `player_id`, or nullptr.
const RegisteredAction* registered_action_of(const Game& game, PlayerId player_id);

}  // namespace minotaur::game
