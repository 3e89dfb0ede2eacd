// Checks that a Game from outside (the admin API, a peer's bytes, a stored state) is one the
// rules can work with. Decoders call it before anything uses the Game; the rules themselves
// assume it holds and assert where it matters.
#pragma once

#include <string>

#include "base/result.h"
#include "game/game.h"

namespace minotaur::game {

inline constexpr std::size_t kMaxIdBytes = 64;
inline constexpr std::size_t kMaxDisplayNameBytes = 64;
// The latest wall-clock time a state may name (the last millisecond of the year 9999): far
// enough for any deadline, and far from where adding a retention to it could overflow.
inline constexpr std::int64_t kMaxTimestampMs = 253'402'300'799'999;

// Ok, or a message naming the first problem found (e.g. "players[2].coord is off the board").
Result<Ok, std::string> validate(const Game& game);

// Ids (game ids, user ids): 1 to 64 characters of [A-Za-z0-9_-].
bool is_valid_id(std::string_view id);

}  // namespace minotaur::game
