#include "crdt/hlc.h"

#include <gtest/gtest.h>

namespace minotaur::crdt {
namespace {

TEST(HybridClock, FollowsWallTimeAndNeverRepeats) {
  HybridClock c;
  const std::uint64_t a = c.now(1000);
  EXPECT_EQ(hlc_wall_ms(a), 1000u);
  const std::uint64_t b = c.now(1000);
  EXPECT_GT(b, a);
  EXPECT_EQ(hlc_logical(b), 1u);
  const std::uint64_t back = c.now(900);  // the wall clock went backwards
  EXPECT_GT(back, b);
  EXPECT_EQ(hlc_wall_ms(c.now(2000)), 2000u);
}

TEST(HybridClock, ObservedStampsOrderLaterWrites) {
  HybridClock a, b;
  const std::uint64_t sa = a.now(5000);  // a's clock runs ahead of b's
  b.observe(sa, 4000);
  EXPECT_GT(b.now(4000), sa);
}

TEST(HybridClock, DriftBeyondTheLimitIsBounded) {
  HybridClock c(/*max_drift_ms=*/100);
  c.observe(hlc_make(1'000'000, 0), 1000);
  EXPECT_EQ(hlc_wall_ms(c.now(1000)), 1101u);  // 1000 + 100, then the logical carry
}

}  // namespace
}  // namespace minotaur::crdt
