#include "proto/codec.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "game/actions.h"
#include "game/lobby.h"
#include "game/round.h"
#include "proto/game.pb.h"
#include "proto/testdata/game_v0.pb.h"

namespace minotaur::proto {
namespace {

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(MINOTAUR_PROTO_TESTDATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

game::Game sample() {
  game::Player a;
  a.id = 1;
  a.user_id = "u_a";
  a.display_name = "Ana";
  a.coord = {0, 0};
  game::Player b = a;
  b.id = 2;
  b.user_id = "u_b";
  b.display_name = "Bo";
  b.coord = {1, -1};
  game::Player c = a;
  c.id = 3;
  c.user_id = "u_c";
  c.display_name = "Cy";
  c.coord = {-4, 2};
  game::Game g = game::new_game("g_sample", {a, b, c}, 1764193234567);
  g.join_code = "QXJR";
  EXPECT_TRUE(game::end_round(g, 1764193264567).ok());
  EXPECT_TRUE(game::register_attack(g, "u_a", 2).ok());
  EXPECT_TRUE(game::register_move(g, "u_c", {1, 0}).ok());
  return g;
}

TEST(GameCodec, RoundTripsEveryField) {
  game::Game g = sample();
  g.players[1].health = 0;  // zero values must survive too
  g.players[1].action_points = 0;
  g.registered_actions.erase(g.registered_actions.begin());
  g.board_radius = 6;
  const std::string bytes = encode_game(g);
  auto back = decode_game(bytes);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value(), g);
  EXPECT_EQ(encode_game(back.value()), bytes);
}

TEST(GameCodec, RoundTripsAConcludedGameWithAndWithoutWinner) {
  game::Game g = sample();
  g.registered_actions.clear();
  g.status = game::Status::kConcluded;
  g.players[1].health = 0;
  g.players[2].health = 0;
  g.winner_player_id = 1;
  auto back = decode_game(encode_game(g));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value(), g);
  g.players[0].health = 0;
  g.winner_player_id.reset();
  back = decode_game(encode_game(g));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value().winner_player_id, std::nullopt);
}

TEST(GameCodec, EncodingIsDeterministic) {
  EXPECT_EQ(encode_game(sample()), encode_game(sample()));
}

TEST(GameCodec, ReadsStateWrittenByTheFirstSchema) {
  auto g = decode_game(read_testdata("game_v0.bin"));
  ASSERT_TRUE(g.ok()) << g.error();
  const game::Game& game = g.value();
  EXPECT_EQ(game.id, "g_journal");
  EXPECT_EQ(game.round, 4);
  EXPECT_EQ(game.round_ends_at_ms, 1764193234567);
  EXPECT_EQ(game.version, 5u);
  ASSERT_EQ(game.players.size(), 2u);
  EXPECT_EQ(game.players[0].user_id, "u_111");
  EXPECT_EQ(game.players[1].coord, (game::Hex{-1, 0}));
  ASSERT_EQ(game.registered_actions.size(), 2u);
  EXPECT_EQ(game.registered_actions[0], (game::RegisteredAction{3, game::Attack{6}}));
  EXPECT_EQ(game.registered_actions[1], (game::RegisteredAction{6, game::Move{{1, 0}}}));
  // Fields added after v0 read as the old behaviour.
  EXPECT_EQ(game.board_radius, game::kDefaultBoardRadius);
  EXPECT_EQ(game.join_code, "");
}

TEST(GameCodec, OldReaderKeepsNewFields) {
  game::Game g = sample();
  g.board_radius = 7;
  const std::string new_bytes = encode_game(g);
  // A node of the older version parses the state, changes what it knows, and passes it on.
  v0::Game old;
  ASSERT_TRUE(old.ParseFromString(new_bytes));
  EXPECT_EQ(old.round(), 2);
  old.set_version(old.version() + 1);
  std::string passed_on;
  ASSERT_TRUE(old.SerializeToString(&passed_on));
  auto back = decode_game(passed_on);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value().board_radius, 7);
  EXPECT_EQ(back.value().join_code, "QXJR");
  EXPECT_EQ(back.value().version, g.version + 1);
}

TEST(GameCodec, RefusesGarbageWithAClearError) {
  for (const std::string& bytes :
       {std::string("\xff\xff\xff", 3), std::string("hello"), std::string("\x0a\x7f", 2)}) {
    auto r = decode_game(bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_FALSE(r.error().empty());
  }
  auto empty = decode_game("");
  ASSERT_FALSE(empty.ok());  // an empty message has no id, no status, no players
}

TEST(GameCodec, RefusesAnUnknownStatus) {
  v1::Game m;
  ASSERT_TRUE(m.ParseFromString(encode_game(sample())));
  m.set_status(static_cast<v1::GameStatus>(7));
  auto r = decode_game(m.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("newer version"), std::string::npos);
}

TEST(GameCodec, RefusesAStateThatBreaksTheRules) {
  v1::Game m;
  ASSERT_TRUE(m.ParseFromString(encode_game(sample())));
  m.mutable_players(0)->mutable_coord()->set_q(9);  // off the board
  auto r = decode_game(m.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("off the board"), std::string::npos);
}

TEST(LobbyCodec, RoundTripsOpenAndStarted) {
  game::Lobby l = game::new_lobby("ABCD", {"u_1", "One"});
  ASSERT_TRUE(game::join_lobby(l, {"u_2", "Two"}).ok());
  l.changed_at_ms = 1'700'000'000'123;
  auto back = decode_lobby(encode_lobby(l));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value(), l);
  ASSERT_TRUE(game::start_game(l, "u_1", "g_1", 0).ok());
  back = decode_lobby(encode_lobby(l));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value(), l);
}

TEST(LobbyCodec, RefusesBrokenLobbies) {
  game::Lobby l = game::new_lobby("ABCD", {"u_1", "One"});
  game::Lobby no_host = l;
  no_host.host_user_id = "u_9";
  EXPECT_FALSE(decode_lobby(encode_lobby(no_host)).ok());
  game::Lobby twice = l;
  twice.members.push_back(twice.members[0]);
  EXPECT_FALSE(decode_lobby(encode_lobby(twice)).ok());
  game::Lobby bad_code = l;
  bad_code.join_code = "ab";
  EXPECT_FALSE(decode_lobby(encode_lobby(bad_code)).ok());
  game::Lobby started_without_game = l;
  started_without_game.status = game::LobbyStatus::kStarted;
  EXPECT_FALSE(decode_lobby(encode_lobby(started_without_game)).ok());
  game::Lobby before_time = l;
  before_time.changed_at_ms = -1;
  EXPECT_FALSE(decode_lobby(encode_lobby(before_time)).ok());
  EXPECT_FALSE(decode_lobby("\xff").ok());
}

}  // namespace
}  // namespace minotaur::proto
