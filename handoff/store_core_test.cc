// StoreCore with a disk: when a peer's acknowledgement, held until the disk has what it brought,
// makes the store commit at once, and when it waits for the periodic commit.
#include "handoff/store_core.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crdt/codec.h"

namespace minotaur::handoff {
namespace {

// Two stores: `a` without a disk, `b` with one (started from an empty snapshot). The wire
// carries their messages through the codec.
struct Pair : ::testing::Test {
  std::int64_t now_ms = 1'000'000;
  StoreCore a{"a", 1, [this] { return now_ms; }};
  StoreCore b{"b", 1, [this] { return now_ms; }};
  int pushes_seen = 0;
  int lazy_pushes_seen = 0;

  void SetUp() override {
    ASSERT_TRUE(b.load(storage::Snapshot{}).ok());
    a.add_peer("b", 1);
    b.add_peer("a", 1);
    pump();
    commit_b();  // whatever the first exchange left for the disk
    pump();
    a.take_flushed();
    pushes_seen = lazy_pushes_seen = 0;
  }

  void pump() {
    for (int round = 0; round < 100; ++round) {
      bool any = false;
      for (StoreCore* from : {&a, &b}) {
        StoreCore& to = from == &a ? b : a;
        const std::string from_name = from == &a ? "a" : "b";
        for (StoreCore::Outgoing& o : from->take_outbox()) {
          any = true;
          if (const auto* p = std::get_if<crdt::PushBatch>(&o.message)) {
            ++pushes_seen;
            if (p->lazy) ++lazy_pushes_seen;
          }
          auto m = crdt::decode(crdt::encode(std::move(o.message)));
          ASSERT_TRUE(m.ok());
          ASSERT_TRUE(to.receive(from_name, 1, std::move(m).value()));
        }
      }
      if (!any) return;
    }
    FAIL() << "the wire never went quiet";
  }

  // What b's writer thread does: take a batch and report it written.
  void commit_b() {
    if (auto batch = b.take_batch()) b.on_committed(batch->seq, true);
  }
};

TEST_F(Pair, AnAcknowledgementNobodyWaitsForWaitsForTheCommitInterval) {
  a.stash("g1", "state");
  a.tick();
  pump();
  EXPECT_EQ(pushes_seen, 1);
  EXPECT_EQ(lazy_pushes_seen, 1);
  EXPECT_EQ(b.pickup("g1"), "state");  // b holds it in memory...
  EXPECT_FALSE(b.commit_wanted());     // ...and writes it at its next interval, not now

  // Held too long (a long --commit-interval-ms): b commits rather than make a re-send it.
  now_ms += StoreCore::kMaxAckHoldMs - 1;
  EXPECT_FALSE(b.commit_wanted());
  now_ms += 1;
  EXPECT_TRUE(b.commit_wanted());
  commit_b();
  EXPECT_FALSE(b.commit_wanted());
  pump();  // the acknowledgement goes out once the batch is written
  a.tick();
  pump();
  EXPECT_EQ(pushes_seen, 1);  // nothing was re-sent
}

TEST_F(Pair, AFlushMakesThePeerCommitAtOnce) {
  a.stash("g1", "state");
  a.tick();
  pump();
  EXPECT_FALSE(b.commit_wanted());

  // The flush re-sends the lazy batch, not lazy: b wants to commit now.
  const crdt::FlushId id = a.flush(10'000).value();
  pump();
  EXPECT_EQ(pushes_seen, 2);
  EXPECT_EQ(lazy_pushes_seen, 1);
  EXPECT_TRUE(a.take_flushed().empty());  // the acknowledgement waits for b's disk
  EXPECT_TRUE(b.commit_wanted());
  commit_b();
  EXPECT_FALSE(b.commit_wanted());
  pump();
  EXPECT_EQ(a.take_flushed(), (std::vector<crdt::FlushDone>{{id, true}}));
}

TEST_F(Pair, WritesWhileAFlushWaitsAreNotLazy) {
  const crdt::FlushId id = a.flush(10'000).value();  // nothing to wait for: done at once
  pump();
  EXPECT_EQ(a.take_flushed(), (std::vector<crdt::FlushDone>{{id, true}}));

  a.stash("g1", "one");
  const crdt::FlushId second = a.flush(10'000).value();
  pump();
  a.stash("g2", "two");
  a.tick();
  pump();
  EXPECT_EQ(pushes_seen, 2);
  EXPECT_EQ(lazy_pushes_seen, 0);
  EXPECT_TRUE(b.commit_wanted());
  commit_b();
  pump();
  EXPECT_EQ(a.take_flushed(), (std::vector<crdt::FlushDone>{{second, true}}));
}

}  // namespace
}  // namespace minotaur::handoff
