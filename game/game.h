// The state of one game (docs/SPEC.md section 1), as plain values.
//
// A Game is owned by exactly one session actor; nothing here is thread-safe or needs to be. The
// rules that change a Game live beside it (actions.h, round.h); each takes the Game by reference,
// checks everything first and changes it only when the change is accepted, so a refused call
// leaves the Game exactly as it was.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "game/hex.h"

namespace minotaur::game {

using PlayerId = std::int32_t;

inline constexpr std::int32_t kStartingHealth = 3;
inline constexpr std::int32_t kStartingActionPoints = 1;
inline constexpr std::int32_t kMaxActionPoints = 2;
inline constexpr std::size_t kMinPlayers = 2;
inline constexpr std::size_t kMaxPlayers = 8;

struct Player {
  PlayerId id = 0;
  std::string user_id;
  std::string display_name;
  std::int32_t health = kStartingHealth;
  std::int32_t action_points = kStartingActionPoints;
  Hex coord;
  // Said end_round in this round: the round ends once every living player has (round.h).
  bool ready = false;
  std::string newer_fields;  // as Game::newer_fields, for this player

  bool alive() const { return health > 0; }
  friend bool operator==(const Player&, const Player&) = default;
};

struct Move {
  Hex vector;
  friend bool operator==(const Move&, const Move&) = default;
};

struct Attack {
  PlayerId target_player_id = 0;
  friend bool operator==(const Attack&, const Attack&) = default;
};

// What a player registers for the round: one of these.
using Action = std::variant<Move, Attack>;

struct RegisteredAction {
  PlayerId player_id = 0;
  Action action;
  friend bool operator==(const RegisteredAction&, const RegisteredAction&) = default;
};

enum class Status { kActive, kConcluded };

// One thing that happened when a round resolved (round.h), so that players can see why the board
// changed: a move (from, to), an attack that hit or missed (its target was no longer within
// distance 1 after the moves), an elimination.
struct RoundEvent {
  enum class Kind { kMove, kHit, kMiss, kEliminated };
  Kind kind = Kind::kMove;
  PlayerId player_id = 0;         // who moved, attacked or was eliminated
  PlayerId target_player_id = 0;  // kHit, kMiss: whom the attack was aimed at
  Hex from;                       // kMove: where the player stood
  Hex to;                         // kMove: where the player stands now
  friend bool operator==(const RoundEvent&, const RoundEvent&) = default;
};

// A round's events: each player registers one action (a move or an attack) and is eliminated at
// most once.
inline constexpr std::size_t kMaxRoundEvents = 2 * kMaxPlayers;

struct Game {
  std::string id;
  std::string join_code;
  Status status = Status::kActive;
  std::int32_t round = 1;
  std::int64_t round_ends_at_ms = 0;  // wall-clock deadline of the current round (ms since epoch)
  std::int32_t board_radius = kDefaultBoardRadius;
  std::vector<Player> players;                       // ordered by id
  std::vector<RegisteredAction> registered_actions;  // ordered by player id, at most one each
  std::optional<PlayerId> winner_player_id;
  std::uint64_t version = 0;  // grows by one with every accepted change
  // The last resolved round (0: none yet) and what happened in it, in order: the moves, the
  // attacks, the eliminations.
  std::int32_t last_resolved_round = 0;
  std::vector<RoundEvent> last_round_events;
  // Fields a newer build wrote that this one does not know, as they came (encoded): passed on
  // unchanged when this build writes the state, so that a rolling deploy's older nodes lose
  // nothing the newer ones added (proto/EVOLUTION.md, rule 3). Empty but for such states.
  std::string newer_fields;

  friend bool operator==(const Game&, const Game&) = default;
};

// Look-ups; nullptr when absent. The pointers are valid until the Game's players change.
const Player* find_player(const Game& game, PlayerId id);
Player* find_player(Game& game, PlayerId id);
const Player* find_player_of_user(const Game& game, std::string_view user_id);

// A new active game at round 1 with the given players (ids, users, names, coords as given;
// health and action points at their starting values).
Game new_game(std::string id, std::vector<Player> players, std::int64_t round_ends_at_ms);

}  // namespace minotaur::game
