#include "sessions/placement.h"

#include <gtest/gtest.h>

#include <map>

namespace minotaur::sessions {
namespace {

TEST(Placement, IsAFunctionOfKeyAndMembersOnly) {
  const std::vector<std::string> a{"n1", "n2", "n3"};
  const std::vector<std::string> b{"n3", "n1", "n2"};
  for (int i = 0; i < 100; ++i) {
    const std::string key = game_key("g_" + std::to_string(i));
    EXPECT_EQ(owner_of(key, a), owner_of(key, b));
  }
  EXPECT_EQ(owner_of("game:x", {}), "");
  EXPECT_EQ(owner_of("game:x", {"solo"}), "solo");
}

TEST(Placement, SpreadsSessionsEvenly) {
  const std::vector<std::string> members{"n1", "n2", "n3"};
  std::map<std::string, int> count;
  for (int i = 0; i < 30'000; ++i) ++count[owner_of(game_key("g_" + std::to_string(i)), members)];
  for (const auto& [m, c] : count) EXPECT_NEAR(c, 10'000, 600) << m;
}

TEST(Placement, OnlyTheLeaversSessionsMoveWhenANodeLeaves) {
  const std::vector<std::string> before{"n1", "n2", "n3"};
  const std::vector<std::string> after{"n1", "n3"};
  int moved = 0;
  for (int i = 0; i < 10'000; ++i) {
    const std::string key = game_key("g_" + std::to_string(i));
    const std::string was = owner_of(key, before);
    const std::string now = owner_of(key, after);
    if (was != "n2") {
      EXPECT_EQ(was, now) << key;
    } else {
      ++moved;
    }
  }
  EXPECT_NEAR(moved, 3333, 300);
}

TEST(Placement, ANewNodeTakesAboutItsShare) {
  const std::vector<std::string> before{"n1", "n2"};
  const std::vector<std::string> after{"n1", "n2", "n3"};
  int moved = 0;
  for (int i = 0; i < 9'000; ++i) {
    const std::string key = game_key("g_" + std::to_string(i));
    const std::string now = owner_of(key, after);
    if (owner_of(key, before) != now) {
      EXPECT_EQ(now, "n3");
      ++moved;
    }
  }
  EXPECT_NEAR(moved, 3000, 300);
}

TEST(Placement, HashIsStable) {
  // A change of the hash moves sessions between the nodes of a mixed-version cluster: pinned.
  EXPECT_EQ(stable_hash("game:g_1", "n1"), 0xf03cad9f7a9f31ecULL);
  EXPECT_NE(stable_hash("ab", "c"), stable_hash("a", "bc"));
}

TEST(SessionKey, WritesAndReadsOneForm) {
  EXPECT_EQ(game_key("g_1"), "game:g_1");
  EXPECT_EQ(lobby_key("QXJRPT"), "lobby:QXJRPT");
  EXPECT_EQ(SessionKey::parse("game:g_1"), SessionKey::game("g_1"));
  EXPECT_EQ(SessionKey::parse("lobby:QXJR"), SessionKey::lobby("QXJR"));
  EXPECT_TRUE(SessionKey::parse("game:g_1")->is_game());
  EXPECT_FALSE(SessionKey::parse("lobby:QXJR")->is_game());
  for (const std::string_view bad : {"", "game:", "lobby:", "gam:x", "Game:g_1", "g_1", "lobbyQXJR"}) {
    EXPECT_EQ(SessionKey::parse(bad), std::nullopt) << bad;
  }
  for (const std::string& key : {game_key("g_0123456789ab"), lobby_key("ABCD")}) {
    EXPECT_EQ(SessionKey::parse(key)->str(), key);
  }
}

}  // namespace
}  // namespace minotaur::sessions
