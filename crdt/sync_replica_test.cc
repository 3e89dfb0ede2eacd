#include "crdt/sync_replica.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "crdt/codec.h"

namespace minotaur::crdt {
namespace {

// Two or more replicas and a hand-driven wire (through the codec). `drop` decides per message.
struct Wire {
  explicit Wire(std::vector<SyncReplica*> rs) : replicas(std::move(rs)) {}

  std::vector<SyncReplica*> replicas;
  std::uint64_t now_ms = 1'000'000;
  std::function<bool(ReplicaId from, ReplicaId to, const SyncMessage&)> drop;

  SyncReplica& by_id(ReplicaId id) {
    for (SyncReplica* r : replicas) {
      if (r->self() == id) return *r;
    }
    ADD_FAILURE() << "no replica " << id;
    return *replicas.front();
  }
  // Delivers until no replica has anything to send (ticks only once, at the start).
  void pump(bool tick = true) {
    if (tick) {
      for (SyncReplica* r : replicas) r->tick(now_ms);
    }
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (SyncReplica* r : replicas) {
        for (Outgoing& o : r->take_outbox()) {
          any = true;
          if (drop && drop(r->self(), o.to, o.message)) continue;
          auto m = decode(encode(std::move(o.message)));
          ASSERT_TRUE(m.ok());
          ASSERT_TRUE(by_id(o.to).receive(r->self(), std::move(m).value(), now_ms).ok());
        }
      }
      if (!any) return;
    }
    FAIL() << "the wire never went quiet";
  }
};

struct Pair : ::testing::Test {
  SyncReplica a{1};
  SyncReplica b{2};
  Wire wire{std::vector<SyncReplica*>{&a, &b}};
  void SetUp() override {
    ASSERT_TRUE(a.add_neighbour(2, wire.now_ms).ok());
    ASSERT_TRUE(b.add_neighbour(1, wire.now_ms).ok());
    wire.pump();  // the first digests: both in sync
    a.take_events();
    b.take_events();
  }
};

TEST_F(Pair, PushReachesTheNeighbourOnTheNextTick) {
  ASSERT_TRUE(a.put("k", "v", wire.now_ms).ok());
  EXPECT_FALSE(b.get("k"));
  wire.pump();
  EXPECT_EQ(b.get("k"), "v");
  EXPECT_EQ(a.log_records(), 0u);  // acknowledged: the log is trimmed
  EXPECT_EQ(a.inflight_bytes(2), 0u);
}

TEST_F(Pair, FlushCompletesOnlyAfterTheAck) {
  ASSERT_TRUE(a.put("k", "v", wire.now_ms).ok());
  const FlushId id = a.flush(wire.now_ms + 10'000).value();
  bool drop_acks = true;
  wire.drop = [&](ReplicaId, ReplicaId, const SyncMessage& m) {
    return drop_acks && std::holds_alternative<PushAck>(m);
  };
  wire.pump();
  EXPECT_EQ(b.get("k"), "v");            // delivered...
  EXPECT_TRUE(a.take_events().empty());  // ...but not acknowledged
  EXPECT_EQ(a.pending_flushes(), 1u);
  drop_acks = false;
  wire.now_ms += 199;
  wire.pump();  // before resend_after_ms: nothing is re-sent
  EXPECT_TRUE(a.take_events().empty());
  wire.now_ms += 1;
  wire.pump();  // re-sent, acknowledged
  const auto done = a.take_events();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], (FlushDone{id, true}));
}

// A push nobody waits for is lazy (a receiver with a disk may acknowledge it at its next
// commit); once a flush waits, what it waits for goes again, not lazy.
TEST_F(Pair, PushesAreLazyUntilAFlushWaitsForThem) {
  std::vector<PushBatch> seen;
  wire.drop = [&](ReplicaId, ReplicaId, const SyncMessage& m) {
    if (const auto* p = std::get_if<PushBatch>(&m)) seen.push_back(*p);
    return true;  // nothing arrives: the batch stays in flight
  };
  ASSERT_TRUE(a.put("k", "v1", wire.now_ms).ok());
  wire.pump();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].lazy);
  const std::uint64_t first = seen[0].seq;

  // The flush re-sends the newest in-flight batch at once, not lazy; a write after it goes
  // not lazy too while the flush waits.
  const FlushId id = a.flush(wire.now_ms + 10'000).value();
  ASSERT_TRUE(a.put("k2", "v2", wire.now_ms).ok());
  wire.pump();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].seq, first);
  EXPECT_FALSE(seen[1].lazy);
  EXPECT_NE(seen[2].seq, first);
  EXPECT_FALSE(seen[2].lazy);

  // Delivered and acknowledged: the flush completes, and pushes are lazy again.
  wire.drop = nullptr;
  wire.now_ms += 200;
  wire.pump();
  EXPECT_EQ(a.take_events(), (std::vector<FlushDone>{{id, true}}));
  EXPECT_EQ(b.get("k2"), "v2");
  wire.drop = [&](ReplicaId, ReplicaId, const SyncMessage& m) {
    if (const auto* p = std::get_if<PushBatch>(&m)) seen.push_back(*p);
    return false;
  };
  ASSERT_TRUE(a.put("k3", "v3", wire.now_ms).ok());
  wire.pump();
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(seen.back().lazy);
}

TEST_F(Pair, FlushTimesOutAtItsDeadline) {
  ASSERT_TRUE(a.put("k", "v", wire.now_ms).ok());
  const FlushId id = a.flush(wire.now_ms + 50).value();
  wire.drop = [](ReplicaId, ReplicaId, const SyncMessage&) { return true; };
  wire.now_ms += 49;
  wire.pump();
  EXPECT_TRUE(a.take_events().empty());
  wire.now_ms += 1;
  wire.pump();
  EXPECT_EQ(a.take_events(), (std::vector<FlushDone>{{id, false}}));
}

TEST_F(Pair, FlushCoversOnlyWritesBeforeTheCall) {
  ASSERT_TRUE(a.put("before", "v", wire.now_ms).ok());
  const FlushId id = a.flush(wire.now_ms + 10'000).value();
  wire.pump();
  EXPECT_EQ(a.take_events(), (std::vector<FlushDone>{{id, true}}));
  // A flush with nothing written is done at once; so is one with no neighbours.
  const FlushId id2 = a.flush(wire.now_ms + 10'000).value();
  EXPECT_EQ(a.take_events(), (std::vector<FlushDone>{{id2, true}}));
}

TEST_F(Pair, FlushWaitsForANewNeighbourToBeInSync) {
  ASSERT_TRUE(a.put("k", "v", wire.now_ms).ok());
  wire.pump();
  SyncReplica c(3);
  wire.replicas.push_back(&c);
  ASSERT_TRUE(a.add_neighbour(3, wire.now_ms).ok());
  ASSERT_TRUE(c.add_neighbour(1, wire.now_ms).ok());
  const FlushId id = a.flush(wire.now_ms + 10'000).value();
  EXPECT_TRUE(a.take_events().empty());  // c has never had "k"
  wire.pump();                           // digests: c catches up; a sees c's digest match its state
  wire.now_ms += 1000;
  wire.pump();
  EXPECT_EQ(c.get("k"), "v");
  EXPECT_EQ(a.take_events(), (std::vector<FlushDone>{{id, true}}));
}

// A neighbour that goes away (down, cut off) no longer holds a flush, but is no acknowledgement
// either: --replication sync must not report a change as replicated because its only peer died.
TEST_F(Pair, RemovedNeighbourEndsAFlushUnacknowledged) {
  ASSERT_TRUE(a.put("k", "v", wire.now_ms).ok());
  const FlushId id = a.flush(wire.now_ms + 10'000).value();
  a.remove_neighbour(2);
  EXPECT_EQ(a.take_events(), (std::vector<FlushDone>{{id, false}}));
  EXPECT_EQ(a.log_records(), 0u);
}

TEST_F(Pair, MessagesFromStrangersAreRefused) {
  auto r = a.receive(99, PushAck{1}, wire.now_ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SyncError::kUnknownNeighbour);
  Delta bad;
  bad.entries.push_back(DeltaEntry{"k", "v", Dot{5, 9}, 1});  // dot outside its context
  r = a.receive(2, PushBatch{1, bad}, wire.now_ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SyncError::kMalformedMessage);
  EXPECT_TRUE(a.take_outbox().empty());  // and no ack for it
}

TEST(SyncReplica, BatchesAndBytesInFlightAreBounded) {
  SyncOptions o;
  o.max_batch_bytes = 4096;
  o.max_inflight_bytes = 16384;
  SyncReplica a(1, o), b(2, o);
  Wire wire{std::vector<SyncReplica*>{&a, &b}};
  ASSERT_TRUE(a.add_neighbour(2, wire.now_ms).ok());
  ASSERT_TRUE(b.add_neighbour(1, wire.now_ms).ok());
  wire.pump();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(a.put("k" + std::to_string(i), std::string(1000, 'x'), wire.now_ms).ok());
  }
  a.tick(wire.now_ms);
  std::size_t batches = 0;
  std::vector<Outgoing> out = a.take_outbox();
  for (const Outgoing& m : out) {
    if (const auto* p = std::get_if<PushBatch>(&m.message)) {
      ++batches;
      EXPECT_LE(encode(*p).size(), o.max_batch_bytes + 1100);
    }
  }
  EXPECT_EQ(batches, 4u);  // 16 KiB window of ~4 KiB batches
  EXPECT_LE(a.inflight_bytes(2), o.max_inflight_bytes + o.max_batch_bytes);
  for (Outgoing& m : out) ASSERT_TRUE(b.receive(1, std::move(m.message), wire.now_ms).ok());
  wire.pump(false);
  wire.pump();
  for (int i = 0; i < 50; ++i) wire.pump();
  EXPECT_EQ(b.size(), 200u);
}

TEST(SyncReplica, LogOverflowFallsBackToAntiEntropy) {
  SyncOptions o;
  o.max_log_records = 16;
  SyncReplica a(1, o), b(2, o);
  Wire wire{std::vector<SyncReplica*>{&a, &b}};
  ASSERT_TRUE(a.add_neighbour(2, wire.now_ms).ok());
  ASSERT_TRUE(b.add_neighbour(1, wire.now_ms).ok());
  wire.pump();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(a.put("k" + std::to_string(i), "v", wire.now_ms).ok());
  EXPECT_LE(a.log_records(), 16u);
  const FlushId id = a.flush(wire.now_ms + 100'000).value();
  wire.pump();
  EXPECT_TRUE(a.take_events().empty());  // b has not been shown to have it all yet
  wire.now_ms += 1000;
  wire.pump();  // the next anti-entropy round
  wire.now_ms += 1000;
  wire.pump();
  EXPECT_EQ(b.size(), 100u);
  EXPECT_EQ(a.take_events(), (std::vector<FlushDone>{{id, true}}));
}

TEST(SyncReplica, AwayNeighbourMissesARemovalAndListingRepairsIt) {
  SyncReplica a(1), b(2);
  Wire wire{std::vector<SyncReplica*>{&a, &b}};
  ASSERT_TRUE(a.add_neighbour(2, wire.now_ms).ok());
  ASSERT_TRUE(b.add_neighbour(1, wire.now_ms).ok());
  ASSERT_TRUE(a.put("k", "v", wire.now_ms).ok());
  ASSERT_TRUE(a.put("j", "v", wire.now_ms).ok());
  wire.pump();
  ASSERT_EQ(b.size(), 2u);
  a.remove_neighbour(2);  // b is away
  a.remove("k");
  ASSERT_TRUE(a.add_neighbour(2, wire.now_ms).ok());  // and back: the removal was never pushed
  wire.pump();
  wire.now_ms += 1000;
  wire.pump();
  EXPECT_FALSE(b.get("k"));
  EXPECT_EQ(b.get("j"), "v");
  EXPECT_TRUE(a.map().same_state(b.map()));
}

// caught_up() holds from the join on; a replica that was cut off meanwhile has not seen what
// was written on the other side. caught_up_since(refresh()) needs a digest from every neighbour
// after the mark, so a node does not start a session from a store a cut left behind (sim seed
// 190, 5 nodes).
TEST(SyncReplica, CaughtUpSinceAMarkNeedsAFreshDigestFromEveryNeighbour) {
  SyncReplica a(1), b(2), c(3);
  Wire wire{std::vector<SyncReplica*>{&a, &b, &c}};
  for (SyncReplica* x : wire.replicas) {
    for (SyncReplica* y : wire.replicas) {
      if (x != y) {
        ASSERT_TRUE(x->add_neighbour(y->self(), wire.now_ms).ok());
      }
    }
  }
  wire.pump();
  ASSERT_TRUE(a.caught_up());
  bool cut = true;  // a is cut off from b and c
  wire.drop = [&](ReplicaId from, ReplicaId to, const SyncMessage&) {
    return cut && (from == 1 || to == 1);
  };
  ASSERT_TRUE(c.put("k", "v", wire.now_ms).ok());
  wire.pump();
  ASSERT_EQ(b.get("k"), "v");
  // c dies; b holds the only copy of its write.
  wire.replicas.pop_back();
  a.remove_neighbour(3);
  b.remove_neighbour(3);
  EXPECT_TRUE(a.caught_up());  // from the join: says nothing of the cut
  const std::uint64_t mark = a.refresh();
  wire.pump();
  EXPECT_FALSE(a.caught_up_since(mark));  // its digest was lost in the cut; none came back
  cut = false;
  wire.now_ms += 1000;  // the next round of digests
  wire.pump();
  EXPECT_TRUE(a.caught_up_since(mark));
  EXPECT_EQ(a.get("k"), "v");
}

TEST(SyncReplica, LimitsAreErrors) {
  SyncOptions o;
  o.max_flushes = 1;
  o.max_neighbours = 1;
  SyncReplica a(1, o);
  ASSERT_TRUE(a.add_neighbour(2, 0).ok());
  EXPECT_EQ(a.add_neighbour(3, 0).error(), SyncError::kTooManyNeighbours);
  EXPECT_EQ(a.add_neighbour(1, 0).error(), SyncError::kInvalidNeighbour);
  ASSERT_TRUE(a.put("k", "v", 0).ok());
  EXPECT_TRUE(a.flush(10).ok());
  EXPECT_EQ(a.flush(10).error(), SyncError::kTooManyFlushes);
  EXPECT_EQ(a.retire_replica(2).error(), SyncError::kInvalidNeighbour);
}

}  // namespace
}  // namespace minotaur::crdt
