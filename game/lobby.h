// A lobby: where players gather under a join code before a game starts (docs/SPEC.md section 1).
//
// The host creates it, others join with its code (2 to 8 members), the host starts the game,
// which places the players on distinct hexes. A lobby is a session like a game, so it is plain
// state that can be encoded and moved; every accepted change grows `version` by one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "game/errors.h"
#include "game/game.h"

namespace minotaur::game {

struct LobbyMember {
  std::string user_id;
  std::string display_name;
  friend bool operator==(const LobbyMember&, const LobbyMember&) = default;
};

enum class LobbyStatus { kOpen, kStarted };

struct Lobby {
  std::string join_code;
  std::string host_user_id;
  std::vector<LobbyMember> members;  // in joining order; the host first
  LobbyStatus status = LobbyStatus::kOpen;
  std::string game_id;  // set once started
  std::uint64_t version = 0;
  // Wall-clock ms of its last change (creation, a join, the start), set by its host: a lobby
  // nobody touched for the host's lobby retention is dropped, so join codes do not run out.
  // It is state, so a hand-off keeps it.
  std::int64_t changed_at_ms = 0;
  // Fields a newer build wrote that this one does not know, as they came (encoded): passed on
  // unchanged when this build writes the state, so that a rolling deploy's older nodes lose
  // nothing the newer ones added (proto/EVOLUTION.md, rule 3). Empty but for such states.
  std::string newer_fields;
  friend bool operator==(const Lobby&, const Lobby&) = default;
};

Lobby new_lobby(std::string join_code, LobbyMember host);

// Refused when the lobby is full, started, or has the user already.
Result<Ok, LobbyError> join_lobby(Lobby& lobby, LobbyMember member);

// The host starts the game: players get ids 1..n in joining order and distinct starting hexes.
// The lobby records the game id; the returned Game is new and at round 1.
Result<Game, LobbyError> start_game(Lobby& lobby, std::string_view user_id, std::string game_id,
                                    std::int64_t round_ends_at_ms);

// n distinct hexes spread evenly around the ring one step inside the edge of the board.
std::vector<Hex> starting_hexes(std::int32_t board_radius, std::size_t n);

}  // namespace minotaur::game
