#include "base/log_throttle.h"

#include <gtest/gtest.h>

#include <vector>

namespace minotaur {
namespace {

TEST(LogThrottle, SaysTheFirstAtOnceThenOncePerIntervalWithTheCount) {
  LogThrottle t(1000);
  std::vector<std::uint64_t> said;
  const auto say = [&](std::uint64_t n) { said.push_back(n); };
  t.note(5, say);  // the first: at once
  for (std::int64_t ms = 6; ms < 1005; ++ms) t.note(ms, say);
  EXPECT_EQ(said, (std::vector<std::uint64_t>{1}));
  t.note(1005, say);  // an interval after the last line: the 1,000 since then
  EXPECT_EQ(said, (std::vector<std::uint64_t>{1, 1000}));
  t.note(5000, say);
  EXPECT_EQ(said, (std::vector<std::uint64_t>{1, 1000, 1}));
}

}  // namespace
}  // namespace minotaur
