// Test helpers for game/: small games built the way the journal's fixtures build them.
#pragma once

#include <string>
#include <vector>

#include "game/game.h"

namespace minotaur::game::testing {

inline Player player(PlayerId id, Hex coord) {
  Player p;
  p.id = id;
  p.user_id = "u_" + std::to_string(id);
  p.display_name = "Player" + std::to_string(id);
  p.coord = coord;
  return p;
}

// Players with ids 1..n and users "u_1".."u_n" at the given coords.
inline Game game_with(const std::vector<Hex>& coords) {
  std::vector<Player> players;
  for (std::size_t i = 0; i < coords.size(); ++i) {
    players.push_back(player(static_cast<PlayerId>(i + 1), coords[i]));
  }
  return new_game("g_test", std::move(players), 30'000);
}

}  // namespace minotaur::game::testing
