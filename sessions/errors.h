// Why a session operation did not happen, as a value the gateway turns into an HTTP error.
#pragma once

#include <string>

#include "game/errors.h"

namespace minotaur::sessions {

struct SessionError {
  enum class Kind {
    kBadRequest,   // the request cannot be right (e.g. an invalid game given by an admin)
    kForbidden,    // the caller may not do this (not a player of the game, not the host)
    kNotFound,     // no such game or lobby
    kConflict,     // the rules refused it (game over, no action points, ...) or it exists already
    kUnavailable,  // the node cannot serve it now (full, draining); retry elsewhere or later
  };
  Kind kind;
  std::string code;     // stable machine code, e.g. "no_action_points"
  std::string message;  // says what to do next
};

// The node cannot serve it now: the caller retries (the message says when or where).
inline SessionError unavailable(std::string code, std::string message) {
  return {SessionError::Kind::kUnavailable, std::move(code), std::move(message)};
}

inline SessionError rule_error(game::ActionError e) {
  const bool forbidden = e == game::ActionError::kNotAPlayer;
  return {forbidden ? SessionError::Kind::kForbidden : SessionError::Kind::kConflict,
          std::string(game::code(e)), std::string(game::message(e))};
}

inline SessionError rule_error(game::LobbyError e) {
  const bool forbidden = e == game::LobbyError::kNotHost;
  return {forbidden ? SessionError::Kind::kForbidden : SessionError::Kind::kConflict,
          std::string(game::code(e)), std::string(game::message(e))};
}

}  // namespace minotaur::sessions
