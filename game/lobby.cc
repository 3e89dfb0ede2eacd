#include "game/lobby.h"

#include "base/assert.h"

namespace minotaur::game {

Lobby new_lobby(std::string join_code, LobbyMember host) {
  Lobby l;
  l.join_code = std::move(join_code);
  l.host_user_id = host.user_id;
  l.members.push_back(std::move(host));
  return l;
}

Result<Ok, LobbyError> join_lobby(Lobby& lobby, LobbyMember member) {
  if (lobby.status == LobbyStatus::kStarted) return err(LobbyError::kAlreadyStarted);
  for (const LobbyMember& m : lobby.members) {
    if (m.user_id == member.user_id) return err(LobbyError::kAlreadyMember);
  }
  if (lobby.members.size() >= kMaxPlayers) return err(LobbyError::kLobbyFull);
  lobby.members.push_back(std::move(member));
  ++lobby.version;
  return Ok{};
}

Result<Game, LobbyError> start_game(Lobby& lobby, std::string_view user_id, std::string game_id,
                                    std::int64_t round_ends_at_ms) {
  if (lobby.status == LobbyStatus::kStarted) return err(LobbyError::kAlreadyStarted);
  if (user_id != lobby.host_user_id) return err(LobbyError::kNotHost);
  if (lobby.members.size() < kMinPlayers) return err(LobbyError::kNotEnoughPlayers);

  const std::vector<Hex> hexes = starting_hexes(kDefaultBoardRadius, lobby.members.size());
  std::vector<Player> players;
  for (std::size_t i = 0; i < lobby.members.size(); ++i) {
    Player p;
    p.id = static_cast<PlayerId>(i + 1);
    p.user_id = lobby.members[i].user_id;
    p.display_name = lobby.members[i].display_name;
    p.coord = hexes[i];
    players.push_back(std::move(p));
  }
  Game game = new_game(game_id, std::move(players), round_ends_at_ms);
  game.join_code = lobby.join_code;
  lobby.status = LobbyStatus::kStarted;
  lobby.game_id = std::move(game_id);
  ++lobby.version;
  return game;
}

std::vector<Hex> starting_hexes(std::int32_t board_radius, std::size_t n) {
  MINOTAUR_ASSERT(board_radius >= kMinBoardRadius);
  MINOTAUR_ASSERT(n <= kMaxPlayers);
  const std::vector<Hex> candidates = ring(board_radius - 1);
  MINOTAUR_ASSERT(candidates.size() >= n);
  std::vector<Hex> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(candidates[i * candidates.size() / n]);
  return out;
}

}  // namespace minotaur::game
