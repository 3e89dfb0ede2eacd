#include "game/round.h"

#include <gtest/gtest.h>

#include "game/actions.h"
#include "game/testing.h"

namespace minotaur::game {
namespace {

using testing::game_with;

TEST(EndRound, StartsTheNextRound) {
  Game g = game_with({{0, 0}, {2, 0}});
  auto r = end_round(g, 61'000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().resolved_round, 1);
  EXPECT_FALSE(r.value().concluded);
  EXPECT_TRUE(r.value().eliminated.empty());
  EXPECT_EQ(g.round, 2);
  EXPECT_EQ(g.round_ends_at_ms, 61'000);
  EXPECT_EQ(g.status, Status::kActive);
  EXPECT_EQ(g.version, 1u);
}

TEST(EndRound, MovesApplyAndEmptyTheRegisteredActions) {
  Game g = game_with({{0, 0}, {2, 0}});
  ASSERT_TRUE(register_move(g, "u_1", {0, 1}).ok());
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 1)->coord, (Hex{0, 1}));
  EXPECT_EQ(find_player(g, 2)->coord, (Hex{2, 0}));
  EXPECT_TRUE(g.registered_actions.empty());
}

TEST(EndRound, TwoPlayersMayMoveOntoOneHex) {
  Game g = game_with({{-1, 0}, {1, 0}});
  ASSERT_TRUE(register_move(g, "u_1", {1, 0}).ok());
  ASSERT_TRUE(register_move(g, "u_2", {-1, 0}).ok());
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 1)->coord, (Hex{0, 0}));
  EXPECT_EQ(find_player(g, 2)->coord, (Hex{0, 0}));
  EXPECT_EQ(find_player(g, 1)->health, 3);
  EXPECT_EQ(find_player(g, 2)->health, 3);
}

TEST(EndRound, AnAttackWhoseTargetMovedAwayMisses) {
  Game g = game_with({{0, 0}, {1, 0}});
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_TRUE(register_move(g, "u_2", {1, 0}).ok());  // to (2,0): distance 2
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 2)->coord, (Hex{2, 0}));
  EXPECT_EQ(find_player(g, 2)->health, 3);
  EXPECT_EQ(find_player(g, 1)->action_points, 1);  // the miss still spent the point
}

TEST(EndRound, AnAttackWhoseTargetMovedButStayedInRangeHits) {
  Game g = game_with({{0, 0}, {1, 0}});
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_TRUE(register_move(g, "u_2", {-1, 1}).ok());  // to (0,1): still adjacent
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 2)->health, 2);
}

TEST(EndRound, AttacksAreSimultaneous) {
  Game g = game_with({{0, 0}, {1, 0}});
  find_player(g, 1)->health = 1;
  find_player(g, 2)->health = 2;
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_TRUE(register_attack(g, "u_2", 1).ok());
  auto r = end_round(g, 0);
  ASSERT_TRUE(r.ok());
  // Player 1 dies, but its attack still lands: damage is dealt all at once.
  EXPECT_EQ(find_player(g, 1)->health, 0);
  EXPECT_EQ(find_player(g, 2)->health, 1);
  EXPECT_EQ(r.value().eliminated, std::vector<PlayerId>{1});
  EXPECT_TRUE(r.value().concluded);
  EXPECT_EQ(g.winner_player_id, 2);
}

TEST(EndRound, DamageFromSeveralAttackersAddsUp) {
  Game g = game_with({{0, 0}, {1, 0}, {-1, 0}, {0, 1}});
  ASSERT_TRUE(register_attack(g, "u_2", 1).ok());
  ASSERT_TRUE(register_attack(g, "u_3", 1).ok());
  ASSERT_TRUE(register_attack(g, "u_4", 1).ok());
  auto r = end_round(g, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(find_player(g, 1)->health, 0);
  EXPECT_EQ(r.value().eliminated, std::vector<PlayerId>{1});
  EXPECT_FALSE(r.value().concluded);  // three still alive
  EXPECT_EQ(g.round, 2);
}

TEST(EndRound, SimultaneousEliminationOfTheLastTwoHasNoWinner) {
  Game g = game_with({{0, 0}, {1, 0}, {3, 0}});
  find_player(g, 1)->health = 1;
  find_player(g, 2)->health = 1;
  find_player(g, 3)->health = 0;
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_TRUE(register_attack(g, "u_2", 1).ok());
  auto r = end_round(g, 99);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().concluded);
  EXPECT_EQ(r.value().eliminated, (std::vector<PlayerId>{1, 2}));
  EXPECT_EQ(g.status, Status::kConcluded);
  EXPECT_EQ(g.winner_player_id, std::nullopt);
  EXPECT_EQ(g.round, 1);  // a concluded game does not start another round
  EXPECT_TRUE(g.registered_actions.empty());
}

TEST(EndRound, TheLastOneStandingWins) {
  Game g = game_with({{0, 0}, {1, 0}});
  find_player(g, 2)->health = 1;
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  auto r = end_round(g, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().concluded);
  EXPECT_EQ(g.status, Status::kConcluded);
  EXPECT_EQ(g.winner_player_id, 1);
}

TEST(EndRound, AConcludedGameRefusesToEndAnotherRound) {
  Game g = game_with({{0, 0}, {1, 0}});
  g.status = Status::kConcluded;
  const Game before = g;
  auto r = end_round(g, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ActionError::kGameOver);
  EXPECT_EQ(g, before);
}

TEST(EndRound, ActionPointsGrowByOneAndAreCappedAtTwo) {
  Game g = game_with({{0, 0}, {2, 0}});
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 1)->action_points, 2);
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 1)->action_points, 2);  // capped
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 1)->action_points, 2);
  // Spending one at 2: 2 - 1 + 1 = 2.
  ASSERT_TRUE(register_move(g, "u_1", {1, 0}).ok());
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 1)->action_points, 2);
}

TEST(EndRound, SpentPointsAreDeductedBeforeTheGain) {
  Game g = game_with({{0, 0}, {2, 0}});
  find_player(g, 1)->action_points = 1;
  ASSERT_TRUE(register_move(g, "u_1", {1, 0}).ok());
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 1)->action_points, 1);  // 1 - 1 + 1
  EXPECT_EQ(find_player(g, 2)->action_points, 2);  // 1 + 1
}

TEST(EndRound, EliminatedPlayersGainNothing) {
  Game g = game_with({{0, 0}, {1, 0}, {-1, 0}});
  find_player(g, 2)->health = 1;
  find_player(g, 2)->action_points = 1;
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_FALSE(find_player(g, 2)->alive());
  EXPECT_EQ(find_player(g, 2)->action_points, 1);
}

TEST(EndRound, AnEliminatedTargetTakesNoFurtherDamageBelowZero) {
  Game g = game_with({{0, 0}, {1, 0}, {1, -1}, {2, 0}});
  find_player(g, 2)->health = 1;
  ASSERT_TRUE(register_attack(g, "u_1", 2).ok());
  ASSERT_TRUE(register_attack(g, "u_3", 2).ok());
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(find_player(g, 2)->health, 0);
}

// The outcome players see: the moves, then each attack as a hit or a miss, then eliminations.
TEST(EndRound, RecordsWhatHappenedInOrder) {
  Game g = game_with({{0, 0}, {1, 0}, {1, -1}});
  find_player(g, 3)->health = 1;
  ASSERT_TRUE(register_attack(g, "u_1", 3).ok());
  ASSERT_TRUE(register_move(g, "u_2", {1, 0}).ok());  // away from player 3's attack
  ASSERT_TRUE(register_attack(g, "u_3", 2).ok());     // misses: 2 moved to distance 3
  ASSERT_TRUE(end_round(g, 0).ok());
  using Kind = RoundEvent::Kind;
  const std::vector<RoundEvent> expected{{Kind::kMove, 2, 0, {1, 0}, {2, 0}},
                                         {Kind::kHit, 1, 3, {}, {}},
                                         {Kind::kMiss, 3, 2, {}, {}},
                                         {Kind::kEliminated, 3, 0, {}, {}}};
  EXPECT_EQ(g.last_resolved_round, 1);
  EXPECT_EQ(g.last_round_events, expected);
  // The next resolution replaces them.
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_EQ(g.last_resolved_round, 2);
  EXPECT_TRUE(g.last_round_events.empty());
}

TEST(PlayerEndsRound, TheRoundEndsOnceEveryLivingPlayerIsReady) {
  Game g = game_with({{0, 0}, {2, 0}, {-2, 0}});
  find_player(g, 3)->health = 0;  // eliminated: not waited for
  auto first = player_ends_round(g, "u_1", 50'000);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first.value().changed);
  EXPECT_FALSE(first.value().resolved);
  EXPECT_TRUE(find_player(g, 1)->ready);
  EXPECT_EQ(g.round, 1);
  EXPECT_EQ(g.version, 1u);
  auto twice = player_ends_round(g, "u_1", 50'000);  // ready already
  ASSERT_TRUE(twice.ok());
  EXPECT_FALSE(twice.value().changed);
  EXPECT_EQ(g.version, 1u);
  auto last = player_ends_round(g, "u_2", 50'000);
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last.value().resolved);
  EXPECT_EQ(last.value().resolved->resolved_round, 1);
  EXPECT_EQ(g.round, 2);
  EXPECT_EQ(g.round_ends_at_ms, 50'000);
  EXPECT_EQ(g.version, 2u) << "the last ready and the resolution are one version";
  for (const Player& p : g.players) EXPECT_FALSE(p.ready) << p.id;
}

TEST(PlayerEndsRound, IsRefusedAsActingIs) {
  Game g = game_with({{0, 0}, {2, 0}, {-2, 0}});
  find_player(g, 3)->health = 0;
  EXPECT_EQ(player_ends_round(g, "u_9", 0).error(), ActionError::kNotAPlayer);
  EXPECT_EQ(player_ends_round(g, "u_3", 0).error(), ActionError::kPlayerEliminated);
  g.status = Status::kConcluded;
  EXPECT_EQ(player_ends_round(g, "u_1", 0).error(), ActionError::kGameOver);
  EXPECT_EQ(g.version, 0u);
}

// A timer's or an admin's end_round clears readiness too.
TEST(EndRound, ClearsReadiness) {
  Game g = game_with({{0, 0}, {2, 0}});
  ASSERT_TRUE(player_ends_round(g, "u_1", 0).ok());
  ASSERT_TRUE(end_round(g, 0).ok());
  EXPECT_FALSE(find_player(g, 1)->ready);
}

}  // namespace
}  // namespace minotaur::game
