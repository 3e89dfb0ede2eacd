// Why the rules refused a change. Every refusal is one of these; the API's table of errors
// (sessions/errors.h) gives each its code, its HTTP status and a message that says what to do
// next.
#pragma once

namespace minotaur::game {

enum class ActionError {
  kGameOver,          // the game is concluded
  kNotAPlayer,        // the user has no character in this game
  kPlayerEliminated,  // the user's character has 0 health
  kNoActionPoints,    // the character has no action point this round
  kNotAUnitVector,    // a move vector other than the six unit vectors
  kOffBoard,          // the move leads off the board
  kUnknownTarget,     // no player with that id
  kTargetIsSelf,      // attacking oneself
  kTargetEliminated,  // the target has 0 health
  kTargetOutOfRange,  // the target is further than distance 1
};

enum class LobbyError {
  kLobbyFull,         // already 8 members
  kAlreadyMember,     // the user is in the lobby already
  kNotHost,           // only the host may start the game
  kNotEnoughPlayers,  // fewer than 2 members
  kAlreadyStarted,    // the lobby has started its game
};

}  // namespace minotaur::game
