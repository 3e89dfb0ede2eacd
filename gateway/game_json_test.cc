#include "gateway/game_json.h"

#include <gtest/gtest.h>

#include "game/actions.h"

namespace minotaur::gateway {
namespace {

namespace json = boost::json;

// The example of docs/SPEC.md section 1, with a second player so that it is a valid game.
constexpr std::string_view kSpecExample = R"({
  "id": "g_7f3a9c",
  "join_code": "QXJR",
  "status": "active",
  "round": 4,
  "round_ends_at_ms": 1764193234567,
  "board_radius": 4,
  "players": [
    {"id": 3, "user_id": "u_111", "display_name": "Player1", "health": 3, "action_points": 1,
     "coord": {"q": -1, "r": 0}, "ready": false},
    {"id": 6, "user_id": "u_222", "display_name": "Player2", "health": 2, "action_points": 2,
     "coord": {"q": -1, "r": 0}, "ready": true}
  ],
  "registered_actions": [
    {"player_id": 3, "type": "attack", "target_player_id": 6},
    {"player_id": 6, "type": "move", "vector": {"q": 1, "r": 0}}
  ],
  "winner_player_id": null,
  "version": 17,
  "last_round": {"round": 3, "events": [
    {"type": "move", "player_id": 3, "from": {"q": -2, "r": 0}, "to": {"q": -1, "r": 0}},
    {"type": "hit", "player_id": 3, "target_player_id": 6},
    {"type": "miss", "player_id": 6, "target_player_id": 3, "reason": "out_of_range"},
    {"type": "eliminated", "player_id": 6}
  ]}
})";

game::Game spec_game() {
  game::Game g;
  g.id = "g_7f3a9c";
  g.join_code = "QXJR";
  g.round = 4;
  g.round_ends_at_ms = 1764193234567;
  g.players.push_back({3, "u_111", "Player1", 3, 1, {-1, 0}, false, {}});
  g.players.push_back({6, "u_222", "Player2", 2, 2, {-1, 0}, true, {}});
  g.registered_actions.push_back({3, game::Attack{6}});
  g.registered_actions.push_back({6, game::Move{{1, 0}}});
  g.version = 17;
  g.last_resolved_round = 3;
  using Kind = game::RoundEvent::Kind;
  g.last_round_events = {{Kind::kMove, 3, 0, {-2, 0}, {-1, 0}},
                         {Kind::kHit, 3, 6, {}, {}},
                         {Kind::kMiss, 6, 3, {}, {}},
                         {Kind::kEliminated, 6, 0, {}, {}}};
  return g;
}

TEST(GameJson, EncodesTheShapeOfTheSpec) {
  EXPECT_EQ(json::value(to_json(spec_game())), json::parse(kSpecExample));
}

TEST(GameJson, EncodesAWinner) {
  game::Game g = spec_game();
  g.status = game::Status::kConcluded;
  g.winner_player_id = 3;
  const json::object o = to_json(g);
  EXPECT_EQ(o.at("winner_player_id"), json::value(3));
  EXPECT_EQ(o.at("status"), json::value("concluded"));
}

TEST(GameJson, DecodesTheSpecExample) {
  auto g = game_from_json(json::parse(kSpecExample));
  ASSERT_TRUE(g.ok()) << g.error();
  EXPECT_EQ(g.value(), spec_game());
}

TEST(GameJson, MissingFieldsTakeTheirStartingValues) {
  auto g = game_from_json(json::parse(R"({"id": "g_1", "players": [
      {"id": 2, "user_id": "u_b", "display_name": "B", "coord": {"q": 1, "r": 0}},
      {"id": 1, "user_id": "u_a", "display_name": "A", "coord": {"q": 0, "r": 0}}]})"));
  ASSERT_TRUE(g.ok()) << g.error();
  const game::Game& game = g.value();
  EXPECT_EQ(game.round, 1);
  EXPECT_EQ(game.status, game::Status::kActive);
  EXPECT_EQ(game.board_radius, game::kDefaultBoardRadius);
  EXPECT_EQ(game.version, 0u);
  ASSERT_EQ(game.players.size(), 2u);
  EXPECT_EQ(game.players[0].id, 1);  // ordered by id
  EXPECT_EQ(game.players[0].health, game::kStartingHealth);
  EXPECT_EQ(game.players[0].action_points, game::kStartingActionPoints);
}

TEST(GameJson, RoundTrips) {
  game::Game g = spec_game();
  auto back = game_from_json(json::value(to_json(g)));
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value(), g);
}

TEST(GameJson, RefusesWrongTypesWithTheFieldsName) {
  struct Case {
    const char* body;
    const char* names;
  };
  const Case cases[] = {
      {R"([])", "object"},
      {R"({"players": []})", "id"},
      {R"({"id": 5, "players": []})", "id"},
      {R"({"id": "g"})", "players"},
      {R"({"id": "g", "players": {}})", "players"},
      {R"({"id": "g", "players": [1, 2]})", "players[0]"},
      {R"({"id": "g", "players": [{"id": "1", "user_id": "u", "display_name": "A",
          "coord": {"q": 0, "r": 0}}]})",
       "players[0].id"},
      {R"({"id": "g", "players": [{"id": 1, "user_id": "u", "display_name": "A",
          "coord": {"q": 0.5, "r": 0}}]})",
       "players[0].coord.q"},
      {R"({"id": "g", "players": [{"id": 1, "user_id": "u", "display_name": "A",
          "coord": {"q": 99999999999, "r": 0}}]})",
       "players[0].coord.q"},
      {R"({"id": "g", "players": [{"id": 1, "user_id": "u", "display_name": "A",
          "coord": {"q": 0, "r": 0}, "health": 9}]})",
       "players[0].health"},
      {R"({"id": "g", "status": "paused", "players": []})", "status"},
      {R"({"id": "g", "round": -1, "players": []})", "round"},
  };
  for (const Case& c : cases) {
    auto g = game_from_json(json::parse(c.body));
    ASSERT_FALSE(g.ok()) << c.body;
    EXPECT_NE(g.error().find(c.names), std::string::npos) << g.error();
  }
}

TEST(GameJson, RefusesAGameTheRulesCannotPlay) {
  auto g = game_from_json(json::parse(R"({"id": "g", "players": [
      {"id": 1, "user_id": "u_a", "display_name": "A", "coord": {"q": 0, "r": 0}}]})"));
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().find("players"), std::string::npos);
}

TEST(ParseJson, ExplainsMalformedBodiesAndLimitsDepth) {
  EXPECT_FALSE(parse_json("{").ok());
  EXPECT_FALSE(parse_json("").ok());
  EXPECT_FALSE(parse_json("{\"a\": tru}").ok());
  EXPECT_TRUE(parse_json("{\"a\": [1, 2]}").ok());
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  auto r = parse_json(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("not valid JSON"), std::string::npos);
}

TEST(ActionJson, ReadsMovesAndAttacks) {
  auto m = action_from_json(json::parse(R"({"type":"move","vector":{"q":1,"r":0}})"));
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(std::get<game::Move>(m.value()), (game::Move{{1, 0}}));
  auto a = action_from_json(json::parse(R"({"type":"attack","target_player_id":6})"));
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(std::get<game::Attack>(a.value()), (game::Attack{6}));
}

TEST(ActionJson, RefusesMalformedActions) {
  for (const char* body :
       {R"({"type":"dance"})", R"({"type":"move"})", R"({"type":"move","vector":[1,0]})",
        R"({"type":"attack"})", R"({"type":"attack","target_player_id":"6"})", R"({})", R"(42)"}) {
    EXPECT_FALSE(action_from_json(json::parse(body)).ok()) << body;
  }
}

TEST(LobbyJson, EncodesMembersAndStatus) {
  game::Lobby l = game::new_lobby("ABCD", {"u_1", "One"});
  json::object o = to_json(l);
  EXPECT_EQ(o.at("join_code"), json::value("ABCD"));
  EXPECT_EQ(o.at("status"), json::value("open"));
  EXPECT_TRUE(o.at("game_id").is_null());
  EXPECT_EQ(o.at("members").as_array().size(), 1u);
}

}  // namespace
}  // namespace minotaur::gateway
