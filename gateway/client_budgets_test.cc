#include "gateway/client_budgets.h"

#include <gtest/gtest.h>

#include <string>

namespace minotaur::gateway {
namespace {

TEST(TokenBuckets, ABurstPassesThenTheRateAndTheWaitIsSaid) {
  TokenBuckets b(Rate{10, 5}, 100);  // 10 a second, 5 saved
  for (int i = 0; i < 5; ++i) EXPECT_EQ(b.take("a", 1, 1'000), 0) << i;
  EXPECT_EQ(b.take("a", 1, 1'000), 100);  // the next token in 100 ms
  EXPECT_EQ(b.take("a", 1, 1'050), 50);
  EXPECT_EQ(b.take("a", 1, 1'100), 0);
  EXPECT_EQ(b.take("b", 1, 1'100), 0);   // another key has its own bucket
  EXPECT_EQ(b.take("a", 1, 10'000), 0);  // refilled, up to the burst only
  for (int i = 0; i < 4; ++i) EXPECT_EQ(b.take("a", 1, 10'000), 0) << i;
  EXPECT_GT(b.take("a", 1, 10'000), 0);
}

TEST(TokenBuckets, PeekSpendsNothing) {
  TokenBuckets b(Rate{1, 2}, 100);
  EXPECT_EQ(b.peek("a", 1, 0), 0);
  EXPECT_EQ(b.take("a", 2, 0), 0);
  EXPECT_EQ(b.peek("a", 1, 0), 1'000);
  EXPECT_EQ(b.peek("a", 1, 1'000), 0);
  EXPECT_EQ(b.take("a", 1, 1'000), 0);
}

TEST(TokenBuckets, ARateOfZeroIsUnlimited) {
  TokenBuckets b(Rate{}, 1);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(b.take(std::to_string(i), 1, 0), 0);
  EXPECT_EQ(b.tracked(), 0u);
}

TEST(TokenBuckets, TrackedKeysAreBoundedAndFullBucketsAreForgottenFirst) {
  TokenBuckets b(Rate{1, 1}, 3);
  EXPECT_EQ(b.take("a", 1, 0), 0);
  EXPECT_EQ(b.take("b", 1, 0), 0);
  EXPECT_EQ(b.take("c", 1, 0), 0);
  EXPECT_GT(b.take("d", 1, 0), 0);  // every tracked key is in debt: a new one waits
  EXPECT_EQ(b.tracked(), 3u);
  EXPECT_EQ(b.take("d", 1, 1'000), 0);  // a, b and c have refilled: forgotten, d tracked
  EXPECT_LE(b.tracked(), 3u);
  EXPECT_GT(b.take("d", 1, 1'000), 0);  // and d is still limited
}

TEST(ClientBudgets, ConnectionsPerAddressAreCountedWhileOpen) {
  BudgetLimits l;
  l.connections_per_address = 2;
  ClientBudgets c(l);
  EXPECT_TRUE(c.open_connection("10.0.0.1"));
  EXPECT_TRUE(c.open_connection("10.0.0.1"));
  EXPECT_FALSE(c.open_connection("10.0.0.1"));
  EXPECT_TRUE(c.open_connection("10.0.0.2"));
  c.close_connection("10.0.0.1");
  EXPECT_TRUE(c.open_connection("10.0.0.1"));
  EXPECT_EQ(c.refused(), 1u);
}

TEST(ClientBudgets, OffLimitsNothing) {
  ClientBudgets c(BudgetLimits::off());
  for (int i = 0; i < 1'000; ++i) ASSERT_TRUE(c.open_connection("a"));
  for (int i = 0; i < 1'000; ++i) ASSERT_EQ(c.join_misses_by_address().take("a", 1, 0), 0);
}

}  // namespace
}  // namespace minotaur::gateway
