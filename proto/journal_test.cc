// The journal's scenario (seed/finishing-process-state-handoff.md), against game/ and the codec:
// two players on hex (-1,0), three round ends, player 1 attacks player 2, player 2 moves (1,0).
#include <gtest/gtest.h>

#include "game/actions.h"
#include "game/round.h"
#include "proto/codec.h"

namespace minotaur {
namespace {

game::Game journal_game() {
  game::Player p1;
  p1.id = 3;
  p1.user_id = "u_111";
  p1.display_name = "Player1";
  p1.coord = {-1, 0};
  game::Player p2;
  p2.id = 6;
  p2.user_id = "u_222";
  p2.display_name = "Player2";
  p2.coord = {-1, 0};
  return game::new_game("g_journal", {p1, p2}, 30'000);
}

TEST(Journal, StateAfterTheUpdatesSurvivesAnEncodeDecodeRoundTrip) {
  game::Game g = journal_game();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(game::end_round(g, 30'000 * (i + 1)).ok());
  ASSERT_TRUE(game::register_attack(g, "u_111", 6).ok());
  ASSERT_TRUE(game::register_move(g, "u_222", {1, 0}).ok());

  EXPECT_EQ(g.round, 4);
  ASSERT_EQ(g.registered_actions.size(), 2u);
  EXPECT_EQ(g.registered_actions[0], (game::RegisteredAction{3, game::Attack{6}}));
  EXPECT_EQ(g.registered_actions[1], (game::RegisteredAction{6, game::Move{{1, 0}}}));
  EXPECT_EQ(g.version, 5u);

  const std::string bytes = proto::encode_game(g);
  auto decoded = proto::decode_game(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(decoded.value(), g);
  EXPECT_EQ(proto::encode_game(decoded.value()), bytes);  // byte-exact
}

}  // namespace
}  // namespace minotaur
