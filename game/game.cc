#include "game/game.h"

#include <algorithm>

namespace minotaur::game {

const Player* find_player(const Game& game, PlayerId id) {
  for (const Player& p : game.players) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

Player* find_player(Game& game, PlayerId id) {
  return const_cast<Player*>(find_player(static_cast<const Game&>(game), id));
}

const Player* find_player_of_user(const Game& game, std::string_view user_id) {
  for (const Player& p : game.players) {
    if (p.user_id == user_id) return &p;
  }
  return nullptr;
}

Game new_game(std::string id, std::vector<Player> players, std::int64_t round_ends_at_ms) {
  Game g;
  g.id = std::move(id);
  for (Player& p : players) {
    p.health = kStartingHealth;
    p.action_points = kStartingActionPoints;
  }
  std::sort(players.begin(), players.end(),
            [](const Player& a, const Player& b) { return a.id < b.id; });
  g.players = std::move(players);
  g.round_ends_at_ms = round_ends_at_ms;
  return g;
}

}  // namespace minotaur::game
