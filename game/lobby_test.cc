#include "game/lobby.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace minotaur::game {
namespace {

LobbyMember member(int i) {
  return {"u_" + std::to_string(i), "P" + std::to_string(i)};
}

TEST(Lobby, HostCreatesOthersJoinHostStarts) {
  Lobby l = new_lobby("QXJR", member(1));
  ASSERT_TRUE(join_lobby(l, member(2)).ok());
  ASSERT_TRUE(join_lobby(l, member(3)).ok());
  EXPECT_EQ(l.members.size(), 3u);
  EXPECT_EQ(l.version, 2u);
  auto g = start_game(l, "u_1", "g_1", 30'000);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(l.status, LobbyStatus::kStarted);
  EXPECT_EQ(l.game_id, "g_1");
  const Game& game = g.value();
  EXPECT_EQ(game.id, "g_1");
  EXPECT_EQ(game.join_code, "QXJR");
  EXPECT_EQ(game.round, 1);
  EXPECT_EQ(game.round_ends_at_ms, 30'000);
  ASSERT_EQ(game.players.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(game.players[i].id, static_cast<PlayerId>(i + 1));
    EXPECT_EQ(game.players[i].user_id, l.members[i].user_id);
    EXPECT_EQ(game.players[i].health, kStartingHealth);
    EXPECT_EQ(game.players[i].action_points, kStartingActionPoints);
  }
}

TEST(Lobby, RefusesTheSameUserTwice) {
  Lobby l = new_lobby("QXJR", member(1));
  auto r = join_lobby(l, member(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), LobbyError::kAlreadyMember);
}

TEST(Lobby, HoldsAtMostEight) {
  Lobby l = new_lobby("QXJR", member(1));
  for (int i = 2; i <= 8; ++i) ASSERT_TRUE(join_lobby(l, member(i)).ok());
  auto r = join_lobby(l, member(9));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), LobbyError::kLobbyFull);
  EXPECT_EQ(l.members.size(), 8u);
}

TEST(Lobby, OnlyTheHostStartsAndNotAlone) {
  Lobby l = new_lobby("QXJR", member(1));
  auto alone = start_game(l, "u_1", "g", 0);
  ASSERT_FALSE(alone.ok());
  EXPECT_EQ(alone.error(), LobbyError::kNotEnoughPlayers);
  ASSERT_TRUE(join_lobby(l, member(2)).ok());
  auto guest = start_game(l, "u_2", "g", 0);
  ASSERT_FALSE(guest.ok());
  EXPECT_EQ(guest.error(), LobbyError::kNotHost);
  EXPECT_EQ(l.status, LobbyStatus::kOpen);
}

TEST(Lobby, StartsOnceAndThenTakesNoOne) {
  Lobby l = new_lobby("QXJR", member(1));
  ASSERT_TRUE(join_lobby(l, member(2)).ok());
  ASSERT_TRUE(start_game(l, "u_1", "g", 0).ok());
  auto again = start_game(l, "u_1", "g2", 0);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), LobbyError::kAlreadyStarted);
  auto late = join_lobby(l, member(3));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error(), LobbyError::kAlreadyStarted);
  EXPECT_EQ(l.game_id, "g");
}

TEST(StartingHexes, AreDistinctAndOnTheBoardForEveryPlayerCount) {
  for (std::size_t n = 2; n <= kMaxPlayers; ++n) {
    const auto hexes = starting_hexes(kDefaultBoardRadius, n);
    ASSERT_EQ(hexes.size(), n);
    std::set<std::pair<int, int>> seen;
    for (const Hex h : hexes) {
      EXPECT_TRUE(on_board(h, kDefaultBoardRadius));
      seen.insert({h.q, h.r});
    }
    EXPECT_EQ(seen.size(), n);
  }
}

}  // namespace
}  // namespace minotaur::game
