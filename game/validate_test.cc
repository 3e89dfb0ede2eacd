#include "game/validate.h"

#include <gtest/gtest.h>

#include <limits>

#include "game/actions.h"
#include "game/testing.h"

namespace minotaur::game {
namespace {

using testing::game_with;

Game good() {
  Game g = game_with({{0, 0}, {1, 0}, {2, 0}});
  EXPECT_TRUE(register_attack(g, "u_1", 2).ok());
  EXPECT_TRUE(register_move(g, "u_3", {0, 1}).ok());
  return g;
}

TEST(Validate, AcceptsAGameTheRulesMade) {
  EXPECT_TRUE(validate(good()).ok());
}

TEST(Validate, RefusesEachKindOfBrokenGame) {
  struct Case {
    const char* what;
    void (*breakit)(Game&);
  };
  const Case cases[] = {
      {"empty id", [](Game& g) { g.id = ""; }},
      {"id with a slash", [](Game& g) { g.id = "a/b"; }},
      {"bad join code", [](Game& g) { g.join_code = "AB1"; }},
      {"radius too small", [](Game& g) { g.board_radius = 1; }},
      {"round zero", [](Game& g) { g.round = 0; }},
      {"deadline past the year 9999",
       [](Game& g) { g.round_ends_at_ms = std::numeric_limits<std::int64_t>::max(); }},
      {"negative deadline", [](Game& g) { g.round_ends_at_ms = -1; }},
      {"one player",
       [](Game& g) {
         g.players.resize(1);
         g.registered_actions.clear();
       }},
      {"nine players",
       [](Game& g) {
         for (int i = 4; i <= 9; ++i) g.players.push_back(testing::player(i, {0, 0}));
       }},
      {"duplicate player id", [](Game& g) { g.players[1].id = 1; }},
      {"duplicate user", [](Game& g) { g.players[1].user_id = "u_1"; }},
      {"bad user id", [](Game& g) { g.players[1].user_id = "u 1"; }},
      {"empty name", [](Game& g) { g.players[1].display_name = ""; }},
      {"health above 3", [](Game& g) { g.players[1].health = 4; }},
      {"negative health", [](Game& g) { g.players[1].health = -1; }},
      {"action points above 2", [](Game& g) { g.players[1].action_points = 3; }},
      {"off the board",
       [](Game& g) {
         g.players[1].coord = {5, 0};
       }},
      {"huge coord",
       [](Game& g) {
         g.players[1].coord = {-2147483647 - 1, 0};
       }},
      {"active with one alive",
       [](Game& g) {
         g.players[1].health = 0;
         g.players[2].health = 0;
         g.registered_actions.clear();
       }},
      {"winner while active", [](Game& g) { g.winner_player_id = 1; }},
      {"action of an unknown player", [](Game& g) { g.registered_actions[0].player_id = 42; }},
      {"two actions of one player",
       [](Game& g) { g.registered_actions.push_back(g.registered_actions[1]); }},
      {"attack on self", [](Game& g) { g.registered_actions[0].action = Attack{1}; }},
      {"move of two steps",
       [](Game& g) {
         g.registered_actions[1].action = Move{{2, 0}};
       }},
      {"action without points", [](Game& g) { g.players[0].action_points = 0; }},
  };
  for (const Case& c : cases) {
    Game g = good();
    c.breakit(g);
    auto r = validate(g);
    EXPECT_FALSE(r.ok()) << c.what;
  }
}

TEST(Validate, AcceptsAConcludedGameWithAWinner) {
  Game g = game_with({{0, 0}, {1, 0}});
  g.players[1].health = 0;
  g.status = Status::kConcluded;
  g.winner_player_id = 1;
  EXPECT_TRUE(validate(g).ok());
}

}  // namespace
}  // namespace minotaur::game
