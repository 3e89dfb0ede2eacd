// Round resolution (docs/SPEC.md section 1, "Round end").
//
// end_round applies, in order: all moves at once; every attack whose target is still within
// distance 1 deals 1 damage, all simultaneously; players at 0 health are eliminated; then either
// the game concludes (at most one player alive; the winner is that one, or none) or the next
// round begins: round + 1, each living player gains 1 action point (at most 2), the registered
// actions are emptied, and the round's deadline becomes `next_round_ends_at_ms`. Spent action
// points are deducted here. Pure: the deadline is passed in, nothing reads a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "game/errors.h"
#include "game/game.h"

namespace minotaur::game {

// What a resolution did, for logs and for telling players.
struct RoundOutcome {
  std::int32_t resolved_round = 0;
  std::vector<PlayerId> eliminated;  // ordered by id
  bool concluded = false;
};

// Refused with kGameOver when the game is already concluded. Records the round's events
// (Game::last_round_events) and clears every player's readiness.
Result<RoundOutcome, ActionError> end_round(Game& game, std::int64_t next_round_ends_at_ms);

// A player's end_round: the player is ready for this round, and once every living player is,
// the round resolves as end_round does. Refused as registering an action is (the game is over,
// the user plays no part in it or was eliminated). The version grows by one when anything
// changed, also when the round resolved (not by two): every version is one change to watch.
struct ReadyOutcome {
  bool changed = false;                  // false: the player was ready already
  std::optional<RoundOutcome> resolved;  // set when this made the round end
};
Result<ReadyOutcome, ActionError> player_ends_round(Game& game, std::string_view user_id,
                                                    std::int64_t next_round_ends_at_ms);

}  // namespace minotaur::game
