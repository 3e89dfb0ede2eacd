#include "game/join_code.h"

#include <gtest/gtest.h>

#include <set>

namespace minotaur::game {
namespace {

TEST(JoinCode, IsSixLettersOfTheAlphabetByDefault) {
  for (std::uint64_t seed : {0ull, 1ull, 23ull, 24ull, 456975ull, 0xdeadbeefull, ~0ull}) {
    const std::string code = make_join_code(seed);
    EXPECT_EQ(code.size(), 6u) << code;
    EXPECT_TRUE(is_join_code(code)) << code;
    for (const char c : code) {
      EXPECT_NE(kJoinCodeAlphabet.find(c), std::string_view::npos) << code;
    }
  }
  EXPECT_EQ(make_join_code(0), "AAAAAA");
  EXPECT_EQ(make_join_code(1), "BAAAAA");
  EXPECT_EQ(make_join_code(0, 4), "AAAA");
  EXPECT_EQ(make_join_code(23, 8), "ZAAAAAAA");
}

TEST(JoinCode, LeavesOutTheLettersPeopleMistake) {
  EXPECT_EQ(kJoinCodeAlphabet.size(), 24u);
  EXPECT_EQ(kJoinCodeAlphabet.find('L'), std::string_view::npos);
  EXPECT_EQ(kJoinCodeAlphabet.find('Q'), std::string_view::npos);
  std::set<char> seen;
  for (std::uint64_t i = 0; i < 2000; ++i) {
    for (const char c : make_join_code(i * 7919)) seen.insert(c);
  }
  EXPECT_EQ(seen.size(), kJoinCodeAlphabet.size());
}

TEST(JoinCode, DifferentNumbersGiveDifferentCodes) {
  std::set<std::string> codes;
  for (std::uint64_t i = 0; i < 1000; ++i) codes.insert(make_join_code(i * 457));
  EXPECT_EQ(codes.size(), 1000u);
}

TEST(JoinCode, ReadsFourToEightLettersSoOlderCodesStayValid) {
  EXPECT_TRUE(is_join_code("QXJR"));  // a code of an earlier build: 4 letters, Q allowed
  EXPECT_TRUE(is_join_code("QXJRPT"));
  EXPECT_TRUE(is_join_code("LLLLLLLL"));
  EXPECT_FALSE(is_join_code("QXJ"));
  EXPECT_FALSE(is_join_code("QXJRPTAB9"));
  EXPECT_FALSE(is_join_code("QXJRPTABC"));
  EXPECT_FALSE(is_join_code("qxjr"));
  EXPECT_FALSE(is_join_code("QX1R"));
  EXPECT_FALSE(is_join_code(""));
}

TEST(JoinCode, NormalisesWhatPeopleType) {
  EXPECT_EQ(normalize_join_code("qxjr"), "QXJR");
  EXPECT_EQ(normalize_join_code("  QxJrPt "), "QXJRPT");
  EXPECT_EQ(normalize_join_code("b00k18"), "BOOKIB");
  EXPECT_EQ(normalize_join_code("5ABCDE"), "SABCDE");
  EXPECT_EQ(normalize_join_code("QX JR"), std::nullopt);
  EXPECT_EQ(normalize_join_code("QX2R"), std::nullopt);
  EXPECT_EQ(normalize_join_code("é123"), std::nullopt);
  EXPECT_EQ(normalize_join_code("ABCDEFGHI"), std::nullopt);
}

}  // namespace
}  // namespace minotaur::game
