#include "base/result.h"

#include <gtest/gtest.h>

#include <string>

namespace minotaur {
namespace {

Result<int, std::string> half(int x) {
  if (x % 2 != 0) return err(std::string("odd"));
  return x / 2;
}

TEST(Result, CarriesValueOrError) {
  auto good = half(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good.value(), 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error(), "odd");
}

TEST(ResultDeathTest, ReadingTheWrongSideIsABug) {
  auto bad = half(3);
  EXPECT_DEATH((void)bad.value(), "assertion failed");
}

}  // namespace
}  // namespace minotaur
