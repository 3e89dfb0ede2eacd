#include "game/join_code.h"

#include <gtest/gtest.h>

#include <set>

namespace minotaur::game {
namespace {

TEST(JoinCode, IsFourCapitalLetters) {
  for (std::uint64_t seed : {0ull, 1ull, 25ull, 26ull, 456975ull, 0xdeadbeefull, ~0ull}) {
    const std::string code = make_join_code(seed);
    EXPECT_TRUE(is_join_code(code)) << code;
  }
  EXPECT_EQ(make_join_code(0), "AAAA");
  EXPECT_EQ(make_join_code(1), "BAAA");
}

TEST(JoinCode, DifferentNumbersGiveDifferentCodes) {
  std::set<std::string> codes;
  for (std::uint64_t i = 0; i < 1000; ++i) codes.insert(make_join_code(i * 457));
  EXPECT_EQ(codes.size(), 1000u);
}

TEST(JoinCode, RecognisesOnlyCodes) {
  EXPECT_TRUE(is_join_code("QXJR"));
  EXPECT_FALSE(is_join_code("QXJ"));
  EXPECT_FALSE(is_join_code("QXJRS"));
  EXPECT_FALSE(is_join_code("qxjr"));
  EXPECT_FALSE(is_join_code("QX1R"));
  EXPECT_FALSE(is_join_code(""));
}

TEST(JoinCode, NormalisesWhatPeopleType) {
  EXPECT_EQ(normalize_join_code("qxjr"), "QXJR");
  EXPECT_EQ(normalize_join_code("  QxJr "), "QXJR");
  EXPECT_EQ(normalize_join_code("QX JR"), std::nullopt);
  EXPECT_EQ(normalize_join_code("é123"), std::nullopt);
}

}  // namespace
}  // namespace minotaur::game
