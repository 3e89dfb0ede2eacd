#include "proto/codec.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "game/actions.h"
#include "game/lobby.h"
#include "game/round.h"
#include "proto/game.pb.h"
#include "proto/testdata/game_v0.pb.h"
#include "proto/testdata/state_sample.h"
#include "proto/upgrade.h"

namespace minotaur::proto {
namespace {

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(MINOTAUR_PROTO_TESTDATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Three players in round 2, with registered actions and a join code (the sample every
// release's fixture holds).
game::Game sample() {
  return testdata::sample_game();
}

TEST(GameCodec, RoundTripsEveryField) {
  game::Game g = sample();
  ASSERT_FALSE(g.last_round_events.empty());  // the sample's first round had a hit
  g.last_round_events.push_back({game::RoundEvent::Kind::kMove, 3, 0, {-4, 2}, {-3, 2}});
  g.last_round_events.push_back({game::RoundEvent::Kind::kMiss, 2, 1, {}, {}});
  g.players[0].ready = true;
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
  EXPECT_EQ(back.value().join_code, "QXJRPT");
  EXPECT_EQ(back.value().version, g.version + 1);
}

// What a newer build adds, an older one passes on: the game and a player carry a field this
// build does not know (number 999), and a change made here keeps it.
TEST(GameCodec, FieldsOfANewerBuildArePassedOnWhenThisBuildChangesTheGame) {
  v1::Game newer;
  ASSERT_TRUE(newer.ParseFromString(encode_game(sample())));
  newer.set_state_version(kStateVersion + 1);
  newer.GetReflection()->MutableUnknownFields(&newer)->AddVarint(999, 42);
  newer.mutable_players(1)
      ->GetReflection()
      ->MutableUnknownFields(newer.mutable_players(1))
      ->AddLengthDelimited(999, "kept");
  auto g = decode_game(newer.SerializeAsString());
  ASSERT_TRUE(g.ok()) << g.error();
  ASSERT_TRUE(game::end_round(g.value(), 1764193294567).ok());  // this build changes it
  v1::Game passed_on;
  ASSERT_TRUE(passed_on.ParseFromString(encode_game(g.value())));
  EXPECT_EQ(passed_on.round(), 3);
  EXPECT_EQ(passed_on.state_version(), kStateVersion) << "the meanings this build wrote in";
  const auto& top = passed_on.GetReflection()->GetUnknownFields(passed_on);
  ASSERT_EQ(top.field_count(), 1);
  EXPECT_EQ(top.field(0).number(), 999);
  EXPECT_EQ(top.field(0).varint(), 42u);
  const auto& player = passed_on.players(1).GetReflection()->GetUnknownFields(passed_on.players(1));
  ASSERT_EQ(player.field_count(), 1);
  EXPECT_EQ(player.field(0).length_delimited(), "kept");
  EXPECT_EQ(
      passed_on.players(0).GetReflection()->GetUnknownFields(passed_on.players(0)).field_count(),
      0);
}

// A round event of a kind a newer build added is skipped: the log is informational.
TEST(GameCodec, SkipsARoundEventOfAnUnknownKind) {
  v1::Game m;
  ASSERT_TRUE(m.ParseFromString(encode_game(sample())));
  const int known = m.last_round_events_size();
  v1::RoundEvent* e = m.add_last_round_events();
  e->set_kind(static_cast<v1::RoundEvent::Kind>(9));
  e->set_player_id(1);
  auto g = decode_game(m.SerializeAsString());
  ASSERT_TRUE(g.ok()) << g.error();
  EXPECT_EQ(static_cast<int>(g.value().last_round_events.size()), known);
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

TEST(LobbyCodec, FieldsOfANewerBuildArePassedOn) {
  v1::Lobby newer;
  ASSERT_TRUE(newer.ParseFromString(encode_lobby(testdata::sample_open_lobby())));
  newer.GetReflection()->MutableUnknownFields(&newer)->AddFixed64(998, 7);
  auto l = decode_lobby(newer.SerializeAsString());
  ASSERT_TRUE(l.ok()) << l.error();
  ASSERT_TRUE(game::join_lobby(l.value(), {"u_cy", "Cy"}).ok());
  v1::Lobby passed_on;
  ASSERT_TRUE(passed_on.ParseFromString(encode_lobby(l.value())));
  EXPECT_EQ(passed_on.members_size(), 3);
  const auto& top = passed_on.GetReflection()->GetUnknownFields(passed_on);
  ASSERT_EQ(top.field_count(), 1);
  EXPECT_EQ(top.field(0).fixed64(), 7u);
}

// State written by each release, read by this build. The fixtures in proto/testdata/release-*/
// were written by that release's own build (write_state_fixtures, docs/RELEASING.md); each
// release keeps its test here, which says what fields added after it read as.
TEST(ReleasedState, Release_0_1_0_IsReadAsItsNodesMeantIt) {
  const std::string bytes = read_testdata("release-0.1.0/game.bin");
  v1::Game raw;
  ASSERT_TRUE(raw.ParseFromString(bytes));
  EXPECT_EQ(raw.state_version(), 0u) << "0.1.0 wrote no state version";
  auto g = decode_game(bytes);
  ASSERT_TRUE(g.ok()) << g.error();
  game::Game expected = testdata::sample_game();
  // Added after 0.1.0, read as their starting values: no round outcome kept.
  expected.last_resolved_round = 0;
  expected.last_round_events.clear();
  EXPECT_EQ(g.value(), expected);
  auto open = decode_lobby(read_testdata("release-0.1.0/lobby_open.bin"));
  ASSERT_TRUE(open.ok()) << open.error();
  EXPECT_EQ(open.value(), testdata::sample_open_lobby());
  auto started = decode_lobby(read_testdata("release-0.1.0/lobby_started.bin"));
  ASSERT_TRUE(started.ok()) << started.error();
  EXPECT_EQ(started.value(), testdata::sample_started_lobby());
  // Written again by this build, it reads back the same.
  auto again = decode_game(encode_game(g.value()));
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again.value(), g.value());
}

}  // namespace
}  // namespace minotaur::proto
