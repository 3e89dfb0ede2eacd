#include "gateway/ws_message.h"

#include <gtest/gtest.h>

namespace minotaur::gateway {
namespace {

TEST(WsMessage, ReadsTheThreeOps) {
  auto s = parse_ws_message(R"({"op":"subscribe","game_id":"g_1"})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().op, WsCommand::Op::kSubscribe);
  EXPECT_EQ(s.value().game_id, "g_1");
  auto a = parse_ws_message(
      R"({"op":"act","id":7,"game_id":"g_1","token":"t","action":{"type":"move"}})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().op, WsCommand::Op::kAct);
  EXPECT_EQ(a.value().id, 7);
  EXPECT_EQ(a.value().token, "t");
  EXPECT_TRUE(a.value().action.is_object());
  EXPECT_EQ(parse_ws_message(R"({"op":"unsubscribe","game_id":"g_1"})").value().op,
            WsCommand::Op::kUnsubscribe);
}

TEST(WsMessage, RefusalsEchoTheIdWhenTheyCan) {
  auto no_action = parse_ws_message(R"({"op":"act","id":3,"game_id":"g_1"})");
  ASSERT_FALSE(no_action.ok());
  EXPECT_EQ(no_action.error().id, 3);
  auto bad_op = parse_ws_message(R"({"op":"dance","id":4,"game_id":"g_1"})");
  ASSERT_FALSE(bad_op.ok());
  EXPECT_EQ(bad_op.error().id, 4);
  for (const char* bad :
       {"", "[]", "{", R"({"op":"subscribe"})", R"({"op":"subscribe","game_id":"../x"})",
        R"({"op":"subscribe","game_id":"g","id":-1})",
        R"({"op":"act","game_id":"g","action":{},"token":5})",
        R"({"op":"subscribe","op":"act","game_id":"g"})"}) {
    auto r = parse_ws_message(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, sessions::ErrorCode::kBadRequest) << bad;
  }
}

}  // namespace
}  // namespace minotaur::gateway
