#include "game/actions.h"

#include <gtest/gtest.h>

#include "game/round.h"
#include "game/testing.h"

namespace minotaur::game {
namespace {

using testing::game_with;

TEST(RegisterMove, AcceptsAUnitVectorOntoTheBoard) {
  Game g = game_with({{0, 0}, {2, 0}});
  ASSERT_TRUE(register_move(g, "u_1", {1, 0}).ok());
  ASSERT_EQ(g.registered_actions.size(), 1u);
  EXPECT_EQ(g.registered_actions[0], (RegisteredAction{1, Move{{1, 0}}}));
  EXPECT_EQ(g.version, 1u);
  // Registering does not move yet, nor spend the point: that happens when the round resolves.
  EXPECT_EQ(find_player(g, 1)->coord, (Hex{0, 0}));
  EXPECT_EQ(find_player(g, 1)->action_points, 1);
}

TEST(RegisterMove, RefusesAVectorThatIsNotAUnitVector) {
  Game g = game_with({{0, 0}, {2, 0}});
  for (const Hex v : {Hex{0, 0}, Hex{2, 0}, Hex{1, 1}, Hex{-1, -1}}) {
    auto r = register_move(g, "u_1", v);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error(), ActionError::kNotAUnitVector);
  }
  EXPECT_TRUE(g.registered_actions.empty());
  EXPECT_EQ(g.version, 0u);
}

TEST(RegisterMove, RefusesAMoveOffTheBoard) {
  Game g = game_with({{4, 0}, {0, 0}});
  const Game before = g;
  auto r = register_move(g, "u_1", {1, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kOffBoard);
  r = register_move(g, "u_1", {0, 1});  // (4,1): |q + r| = 5
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kOffBoard);
  EXPECT_EQ(g, before);
  EXPECT_TRUE(register_move(g, "u_1", {-1, 0}).ok());
}

TEST(Register, RefusesAUserWithoutACharacter) {
  Game g = game_with({{0, 0}, {1, 0}});
  auto r = register_move(g, "u_stranger", {1, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kNotAPlayer);
  r = register_attack(g, "u_stranger", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kNotAPlayer);
}

TEST(Register, RefusesAnEliminatedPlayer) {
  Game g = game_with({{0, 0}, {1, 0}, {-1, 0}});
  find_player(g, 2)->health = 0;
  const Game before = g;
  auto r = register_move(g, "u_2", {1, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kPlayerEliminated);
  r = register_attack(g, "u_2", 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kPlayerEliminated);
  EXPECT_EQ(g, before);
}

TEST(Register, RefusesAPlayerWithoutActionPoints) {
  Game g = game_with({{0, 0}, {1, 0}});
  find_player(g, 1)->action_points = 0;
  auto r = register_move(g, "u_1", {1, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kNoActionPoints);
  r = register_attack(g, "u_1", 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kNoActionPoints);
}

TEST(Register, RefusesEverythingOnceTheGameIsOver) {
  Game g = game_with({{0, 0}, {1, 0}});
  g.status = Status::kConcluded;
  auto r = register_move(g, "u_1", {1, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kGameOver);
  r = register_attack(g, "u_1", 2);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kGameOver);
}

TEST(RegisterAttack, AcceptsAnotherLivingPlayerWithinDistanceOne) {
  Game g = game_with({{0, 0}, {1, 0}, {-1, 0}});
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_TRUE(register_attack(g, "u_3", 1).ok());
  ASSERT_EQ(g.registered_actions.size(), 2u);
  EXPECT_EQ(g.registered_actions[0], (RegisteredAction{1, Attack{2}}));
  EXPECT_EQ(g.registered_actions[1], (RegisteredAction{3, Attack{1}}));
}

TEST(RegisterAttack, AcceptsATargetOnTheSameHex) {
  Game g = game_with({{-1, 0}, {-1, 0}});
  EXPECT_TRUE(register_attack(g, "u_1", 2).ok());
}

TEST(RegisterAttack, RefusesEachKindOfBadTarget) {
  Game g = game_with({{0, 0}, {1, 0}, {3, 0}, {0, 1}});
  find_player(g, 4)->health = 0;
  const Game before = g;
  const std::pair<PlayerId, ActionError> cases[] = {
      {99, ActionError::kUnknownTarget},
      {1, ActionError::kTargetIsSelf},
      {4, ActionError::kTargetEliminated},
      {3, ActionError::kTargetOutOfRange},
  };
  for (const auto& [target, expected] : cases) {
    auto r = register_attack(g, "u_1", target);
    ASSERT_FALSE(r.ok()) << target;
    EXPECT_EQ(r.error(), expected) << target;
  }
  EXPECT_EQ(g, before);
}

TEST(Register, ReRegisteringReplacesTheEarlierAction) {
  Game g = game_with({{0, 0}, {1, 0}});
  ASSERT_TRUE(register_move(g, "u_1", {0, 1}).ok());
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_EQ(g.registered_actions.size(), 1u);
  EXPECT_EQ(g.registered_actions[0], (RegisteredAction{1, Attack{2}}));
  ASSERT_TRUE(register_move(g, "u_1", {-1, 0}).ok());
  ASSERT_EQ(g.registered_actions.size(), 1u);
  EXPECT_EQ(g.registered_actions[0], (RegisteredAction{1, Move{{-1, 0}}}));
  EXPECT_EQ(g.version, 3u);
  // The replaced action cost nothing: one point, one action, at resolution.
  ASSERT_TRUE(end_round(g, 60'000).ok());
  EXPECT_EQ(find_player(g, 1)->coord, (Hex{-1, 0}));
  EXPECT_EQ(find_player(g, 1)->action_points, 1);  // 1 - 1 spent + 1 gained
  EXPECT_EQ(find_player(g, 2)->health, 3);
}

TEST(Register, ActionsAreOrderedByPlayerId) {
  Game g = game_with({{0, 0}, {1, 0}, {0, 1}, {-1, 0}});
  ASSERT_TRUE(register_move(g, "u_3", {1, 0}).ok());
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_TRUE(register_move(g, "u_4", {-1, 0}).ok());
  ASSERT_TRUE(register_move(g, "u_2", {1, 0}).ok());
  ASSERT_EQ(g.registered_actions.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(g.registered_actions[i].player_id, static_cast<PlayerId>(i + 1));
  }
}

}  // namespace
}  // namespace minotaur::game
