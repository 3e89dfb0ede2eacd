// JSON of games, lobbies and action requests, exactly as docs/SPEC.md sections 1 and 3 show them.
//
// The *_from_json readers take input from outside (HTTP bodies): they check every type and
// range, fill missing optional fields with their starting values, run game::validate, and return
// a message that names the offending field. They never throw and never assert on input.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "base/result.h"
#include "game/game.h"
#include "game/lobby.h"

namespace minotaur::gateway {

inline constexpr std::size_t kMaxJsonDepth = 16;

boost::json::object to_json(const game::Game& game);
boost::json::object to_json(const game::Lobby& lobby);

// Parses a request body; an error says where the JSON is malformed.
Result<boost::json::value, std::string> parse_json(std::string_view body);

// A game given by an admin (POST /api/v1/games): `id` and `players` (id, user_id, display_name,
// coord) at least; everything else takes its starting value.
Result<game::Game, std::string> game_from_json(const boost::json::value& json);

// The body of POST /api/v1/games/{id}/actions.
Result<game::Action, std::string> action_from_json(const boost::json::value& json);

}  // namespace minotaur::gateway
