#include "base/deadline.h"

#include <gtest/gtest.h>

#include <limits>

namespace minotaur {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

TEST(DelayUntil, IsTheTimeLeftAndZeroForThePast) {
  EXPECT_EQ(delay_until(1'000, 500, 1'200).count(), 300);
  EXPECT_EQ(delay_until(1'000, 0, 5'000).count(), 0);
}

TEST(DelayUntil, NeverOverflowsAndClampsFarDeadlines) {
  EXPECT_EQ(delay_until(kMax, 0, 0).count(), kMaxTimerDelayMs);
  EXPECT_EQ(delay_until(kMax, 600'000, 1'700'000'000'000).count(), kMaxTimerDelayMs);
  EXPECT_EQ(delay_until(kMin, -1, 0).count(), 0);
  EXPECT_EQ(delay_until(0, 0, kMin).count(), kMaxTimerDelayMs);
  EXPECT_EQ(delay_until(0, 0, kMax).count(), 0);
  // The timer's own unit holds the largest delay.
  EXPECT_GT(std::chrono::nanoseconds(delay_until(kMax, kMax, kMin)).count(), 0);
}

}  // namespace
}  // namespace minotaur
