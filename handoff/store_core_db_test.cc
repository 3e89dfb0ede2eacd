// StoreCore with a database: what it queues, when it refuses changes, and how the database's
// rows join what a data dir holds (merge_rows).
#include <gtest/gtest.h>

#include "handoff/store_core.h"

namespace minotaur::handoff {
namespace {

TEST(StoreCoreDatabase, OwnStashesAndRemovalsAreQueuedWithTheirDotStampAndEpoch) {
  std::int64_t now = 1'000;
  StoreCore core("n1", 7, [&] { return now; });
  core.attach_database({});
  const std::string v1 = encode_stashed(3, true, "n1#7", "state-1");
  core.stash("game:a", v1);
  const std::string v2 = encode_stashed(3, true, "n1#7", "state-2");
  core.stash("game:a", v2);
  ASSERT_EQ(core.database()->queue_length(), 1u) << "coalesced";
  now += 40;
  EXPECT_EQ(core.db_lag_ms(), 40);
  auto batch = core.take_db_batch();
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->changes.size(), 1u);
  const storage::DbChange& c = batch->changes[0];
  const crdt::Entry* e = core.replica().map().find("game:a");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(c, (storage::DbChange{"game:a", false, 3, v2, e->dot, e->hlc}));
  EXPECT_FALSE(core.on_db_written(batch->seq, {true, 0}));

  core.remove("game:a");
  batch = core.take_db_batch();
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->changes.size(), 1u);
  EXPECT_TRUE(batch->changes[0].remove);
  EXPECT_EQ(batch->changes[0].epoch, 3u) << "the removal is fenced at the removed stash's epoch";
}

TEST(StoreCoreDatabase, PastTheBoundChangesAreRefusedUntilTheDatabaseCatchesUp) {
  std::int64_t now = 0;
  StoreCore core("n1", 1, [&] { return now; });
  storage::DbQueueLimits limits;
  limits.max_lag_ms = 500;
  core.attach_database(limits);
  EXPECT_TRUE(core.storage_ok());
  core.stash("game:a", encode_stashed(1, true, "n1#1", "s"));
  auto batch = core.take_db_batch();
  ASSERT_TRUE(batch);
  now = 100;
  EXPECT_TRUE(core.on_db_written(batch->seq, {false, 0})) << "the database went away";
  EXPECT_TRUE(core.storage_ok()) << "within the bound: changes queue";
  now = 501;
  EXPECT_FALSE(core.storage_ok());
  batch = core.take_db_batch();
  ASSERT_TRUE(batch);
  EXPECT_TRUE(core.on_db_written(batch->seq, {true, 0})) << "back";
  EXPECT_TRUE(core.storage_ok());
}

TEST(StoreCoreDatabase, WritesFromPeersAreNotQueued) {
  std::int64_t now = 0;
  StoreCore a("a", 1, [&] { return now; });
  StoreCore b("b", 1, [&] { return now; });
  b.attach_database({});
  a.add_peer("b", 1);
  b.add_peer("a", 1);
  a.stash("game:x", encode_stashed(1, true, "a#1", "s"));
  for (int i = 0; i < 10; ++i) {
    now += StoreCore::kTickMs;
    a.tick();
    b.tick();
    for (auto& o : a.take_outbox()) b.receive("a", 1, std::move(o.message));
    for (auto& o : b.take_outbox()) a.receive("b", 1, std::move(o.message));
  }
  ASSERT_TRUE(b.pickup("game:x")) << "replicated";
  EXPECT_EQ(b.database()->queue_length(), 0u) << "its owner writes it";
}

storage::DbRow row(const std::string& key, std::uint64_t epoch, crdt::Dot dot, std::uint64_t hlc,
                   const std::string& state = "s") {
  return storage::DbRow{{key, encode_stashed(epoch, true, "n1#1", state), dot, hlc}, epoch};
}

TEST(MergeRows, RowsJoinASnapshotWithExactlyTheirDotsAndBadRowsAreSkipped) {
  storage::Snapshot snap;
  std::size_t skipped = 0;
  auto bad_epoch = row("game:c", 2, {9, 1}, 10);
  bad_epoch.epoch = 3;  // the column says another epoch than the value
  merge_rows(snap,
             {row("game:a", 1, {5, 2}, 10), row("game:b", 1, {5, 4}, 11), bad_epoch,
              storage::DbRow{{"game:d", "not a stash", {9, 2}, 1}, 1}},
             &skipped);
  EXPECT_EQ(skipped, 2u);
  ASSERT_EQ(snap.entries.size(), 2u);
  EXPECT_EQ(snap.context, (std::vector<crdt::DotRange>{{5, 2, 2}, {5, 4, 4}}))
      << "no dot that the rows do not carry";
  StoreCore core("n1", 2, [] { return std::int64_t{0}; });
  ASSERT_TRUE(core.load(std::move(snap), /*for_disk=*/false));
  EXPECT_EQ(core.size(), 2u);
  EXPECT_FALSE(core.has_disk());
}

TEST(MergeRows, ADataDirsNewerOrSeenWriteWinsAndANewerRowReplacesAnOlderEntry) {
  storage::Snapshot snap;
  snap.entries = {{"game:a", encode_stashed(4, true, "n1#1", "disk"), {5, 8}, 80},
                  {"game:b", encode_stashed(1, true, "n1#1", "disk"), {5, 3}, 30}};
  snap.context = {{5, 1, 8}};
  std::size_t skipped = 0;
  merge_rows(snap,
             {row("game:a", 3, {5, 6}, 60, "row"),   // seen by the data dir: left out
              row("game:b", 2, {6, 1}, 90, "row"),   // newer than the data dir's: replaces it
              row("game:c", 1, {6, 2}, 95, "row")},  // not in the data dir: added
             &skipped);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(snap.entries.size(), 3u);
  EXPECT_EQ(decode_stashed(snap.entries[0].value)->state, "disk");
  EXPECT_EQ(decode_stashed(snap.entries[1].value)->state, "row");
  EXPECT_EQ(snap.entries[1].dot, (crdt::Dot{6, 1}));
  EXPECT_EQ(snap.entries[2].key, "game:c");
  EXPECT_EQ(snap.context, (std::vector<crdt::DotRange>{{5, 1, 8}, {6, 1, 2}}));
}

}  // namespace
}  // namespace minotaur::handoff
