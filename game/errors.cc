#include "game/errors.h"

#include "base/assert.h"

namespace minotaur::game {

std::string_view code(ActionError e) {
  switch (e) {
    case ActionError::kGameOver:
      return "game_over";
    case ActionError::kNotAPlayer:
      return "not_a_player";
    case ActionError::kPlayerEliminated:
      return "player_eliminated";
    case ActionError::kNoActionPoints:
      return "no_action_points";
    case ActionError::kNotAUnitVector:
      return "not_a_unit_vector";
    case ActionError::kOffBoard:
      return "off_board";
    case ActionError::kUnknownTarget:
      return "unknown_target";
    case ActionError::kTargetIsSelf:
      return "target_is_self";
    case ActionError::kTargetEliminated:
      return "target_eliminated";
    case ActionError::kTargetOutOfRange:
      return "target_out_of_range";
  }
  MINOTAUR_ASSERT(false);
  return {};
}

std::string_view message(ActionError e) {
  switch (e) {
    case ActionError::kGameOver:
      return "the game is over; start a new game from a lobby";
    case ActionError::kNotAPlayer:
      return "you have no character in this game; join it through its lobby";
    case ActionError::kPlayerEliminated:
      return "your character has been eliminated and can no longer act";
    case ActionError::kNoActionPoints:
      return "your character has no action point this round; wait for the next round";
    case ActionError::kNotAUnitVector:
      return "a move must be one of the six unit vectors (1,0) (1,-1) (0,-1) (-1,0) (-1,1) (0,1)";
    case ActionError::kOffBoard:
      return "that move leads off the board; choose another direction";
    case ActionError::kUnknownTarget:
      return "no player with that id in this game; pick a target from the game's players";
    case ActionError::kTargetIsSelf:
      return "you cannot attack yourself; pick another player";
    case ActionError::kTargetEliminated:
      return "that player is already eliminated; pick a living player";
    case ActionError::kTargetOutOfRange:
      return "that player is not within distance 1; move closer first";
  }
  MINOTAUR_ASSERT(false);
  return {};
}

std::string_view code(LobbyError e) {
  switch (e) {
    case LobbyError::kLobbyFull:
      return "lobby_full";
    case LobbyError::kAlreadyMember:
      return "already_member";
    case LobbyError::kNotHost:
      return "not_host";
    case LobbyError::kNotEnoughPlayers:
      return "not_enough_players";
    case LobbyError::kAlreadyStarted:
      return "already_started";
  }
  MINOTAUR_ASSERT(false);
  return {};
}

std::string_view message(LobbyError e) {
  switch (e) {
    case LobbyError::kLobbyFull:
      return "the lobby already has 8 players; create a new lobby";
    case LobbyError::kAlreadyMember:
      return "you are already in this lobby";
    case LobbyError::kNotHost:
      return "only the lobby's host can start the game";
    case LobbyError::kNotEnoughPlayers:
      return "a game needs at least 2 players; share the join code and wait for someone to join";
    case LobbyError::kAlreadyStarted:
      return "this lobby has started its game already; open the game or create a new lobby";
  }
  MINOTAUR_ASSERT(false);
  return {};
}

}  // namespace minotaur::game
