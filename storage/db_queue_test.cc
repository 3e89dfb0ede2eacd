#include "storage/db_queue.h"

#include <gtest/gtest.h>

namespace minotaur::storage {
namespace {

DbChange put(const std::string& key, std::uint64_t epoch, const std::string& value) {
  return DbChange{key, false, epoch, value, crdt::Dot{7, epoch}, 100 + epoch};
}

TEST(DbQueue, CoalescesPerKeyAndWritesTheNewestValue) {
  DbQueue q;
  q.add(put("game:a", 1, "v1"), 0);
  q.add(put("game:a", 1, "v2"), 5);
  q.add(put("game:b", 3, "w"), 6);
  EXPECT_EQ(q.queue_length(), 2u);
  auto b = q.take_batch(10);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->changes.size(), 2u);
  EXPECT_EQ(b->changes[0], put("game:a", 1, "v2"));  // oldest key first
  EXPECT_EQ(b->changes[1].key, "game:b");
  EXPECT_FALSE(q.take_batch(10)) << "one batch at a time";
  EXPECT_EQ(q.queue_length(), 2u) << "keys being written are still unwritten";
  EXPECT_EQ(q.oldest_unwritten_ms(20), 20) << "the key's first change, not its last";
  EXPECT_FALSE(q.on_written(b->seq, {true, 0}, 21));
  EXPECT_EQ(q.queue_length(), 0u);
  EXPECT_EQ(q.oldest_unwritten_ms(30), 0);
  EXPECT_FALSE(q.take_batch(30));
  EXPECT_EQ(q.counters().rows_written, 2u);
  EXPECT_EQ(q.counters().batches_written, 1u);
}

TEST(DbQueue, BatchesAreBoundedAndTakenOldestFirst) {
  DbQueueLimits limits;
  limits.max_batch_keys = 2;
  DbQueue q(limits);
  q.add(put("c", 1, "x"), 3);
  q.add(put("a", 1, "x"), 1);
  q.add(put("b", 1, "x"), 2);
  auto b = q.take_batch(4);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->changes.size(), 2u);
  EXPECT_EQ(b->changes[0].key, "a");
  EXPECT_EQ(b->changes[1].key, "b");
  (void)q.on_written(b->seq, {true, 0}, 5);
  b = q.take_batch(5);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->changes.size(), 1u);
  EXPECT_EQ(b->changes[0].key, "c");
}

TEST(DbQueue, AFailedBatchIsRetriedAfterABackoffAndANewerChangeWins) {
  DbQueue q;
  q.add(put("game:a", 1, "old"), 0);
  q.add(put("game:b", 1, "b"), 1);
  auto b = q.take_batch(0);
  ASSERT_TRUE(b);
  q.add(put("game:a", 2, "new"), 10);  // while the batch is being written
  EXPECT_TRUE(q.on_written(b->seq, {false, 0}, 20)) << "a failing episode begins";
  EXPECT_TRUE(q.failing());
  EXPECT_EQ(q.counters().write_errors, 1u);
  EXPECT_EQ(q.queue_length(), 2u);
  EXPECT_EQ(q.oldest_unwritten_ms(50), 50) << "the failed change's age is kept";
  EXPECT_FALSE(q.take_batch(20 + 99)) << "backoff";
  b = q.take_batch(20 + 100);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->changes.size(), 2u);
  EXPECT_EQ(b->changes[0], put("game:a", 2, "new"));
  EXPECT_EQ(b->changes[1], put("game:b", 1, "b"));
  EXPECT_FALSE(q.on_written(b->seq, {false, 0}, 130)) << "still the same episode";
  EXPECT_FALSE(q.take_batch(130 + 199)) << "the backoff doubles";
  b = q.take_batch(130 + 200);
  ASSERT_TRUE(b);
  EXPECT_TRUE(q.on_written(b->seq, {true, 1}, 340)) << "the episode ends";
  EXPECT_FALSE(q.failing());
  EXPECT_EQ(q.counters().fenced, 1u);
  EXPECT_EQ(q.queue_length(), 0u);
}

TEST(DbQueue, TheBackoffStopsGrowingAtItsMaximum) {
  DbQueueLimits limits;
  limits.first_backoff_ms = 100;
  limits.max_backoff_ms = 300;
  DbQueue q(limits);
  q.add(put("k", 1, "v"), 0);
  std::int64_t now = 0;
  for (int i = 0; i < 6; ++i) {
    auto b = q.take_batch(now);
    ASSERT_TRUE(b) << i;
    (void)q.on_written(b->seq, {false, 0}, now);
    now = q.retry_at_ms();
  }
  auto b = q.take_batch(now);
  ASSERT_TRUE(b);
  (void)q.on_written(b->seq, {false, 0}, now);
  EXPECT_EQ(q.retry_at_ms() - now, 300);
}

TEST(DbQueue, RefusesChangesPastTheBoundOnKeysOrLag) {
  DbQueueLimits limits;
  limits.max_keys = 2;
  limits.max_lag_ms = 1'000;
  DbQueue q(limits);
  EXPECT_TRUE(q.accepts_changes(0));
  q.add(put("a", 1, "x"), 0);
  q.add(put("b", 1, "x"), 0);
  EXPECT_TRUE(q.accepts_changes(1'000));
  EXPECT_FALSE(q.accepts_changes(1'001)) << "the oldest change waits too long";
  q.add(put("c", 1, "x"), 0);
  EXPECT_FALSE(q.accepts_changes(0)) << "too many keys unwritten";
  auto b = q.take_batch(0);
  ASSERT_TRUE(b);
  EXPECT_FALSE(q.accepts_changes(0)) << "being written is not written";
  (void)q.on_written(b->seq, {true, 0}, 5);
  EXPECT_TRUE(q.accepts_changes(5'000));
}

TEST(DbQueue, ARemovalReplacesAQueuedWriteOfTheKey) {
  DbQueue q;
  q.add(put("lobby:X", 4, "v"), 0);
  q.add(DbChange{"lobby:X", true, 4, "", {}, 0}, 1);
  auto b = q.take_batch(2);
  ASSERT_TRUE(b);
  ASSERT_EQ(b->changes.size(), 1u);
  EXPECT_TRUE(b->changes[0].remove);
  EXPECT_EQ(b->changes[0].epoch, 4u);
}

}  // namespace
}  // namespace minotaur::storage
