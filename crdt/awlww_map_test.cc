#include "crdt/awlww_map.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace minotaur::crdt {
namespace {

constexpr std::uint64_t kNow = 1'000'000;

// b learns everything a has (a state delta is the whole state with its whole context).
void sync(const AwlwwMap& from, AwlwwMap& to) {
  ASSERT_TRUE(to.join(from.state_delta(), kNow).ok());
}

void put(AwlwwMap& m, const std::string& k, const std::string& v, std::uint64_t now = kNow) {
  ASSERT_TRUE(m.put(k, v, now).ok());
}

TEST(AwlwwMap, PutGetRemove) {
  AwlwwMap m(1);
  put(m, "a", "1");
  put(m, "a", "2");
  EXPECT_EQ(m.get("a"), "2");
  EXPECT_EQ(m.size(), 1u);
  EXPECT_TRUE(m.remove("a").has_value());
  EXPECT_FALSE(m.get("a"));
  EXPECT_FALSE(m.remove("a").has_value());
  m.check_invariants();
}

TEST(AwlwwMap, RemoveWinsOverThePutsItHasSeen) {
  AwlwwMap a(1), b(2);
  put(a, "k", "v");
  sync(a, b);
  ASSERT_TRUE(b.remove("k"));
  sync(b, a);
  EXPECT_FALSE(a.get("k"));
  sync(a, b);  // and the old put does not come back from a's context
  EXPECT_FALSE(b.get("k"));
}

TEST(AwlwwMap, ConcurrentPutSurvivesRemove_AddWins) {
  AwlwwMap a(1), b(2);
  put(a, "k", "old");
  sync(a, b);
  ASSERT_TRUE(b.remove("k"));
  put(a, "k", "new", kNow - 500);  // concurrent with the remove, even with an older stamp
  sync(b, a);
  sync(a, b);
  EXPECT_EQ(a.get("k"), "new");
  EXPECT_EQ(b.get("k"), "new");
}

TEST(AwlwwMap, PutAfterRemoveIsPresent) {
  AwlwwMap a(1), b(2);
  put(a, "k", "v1");
  sync(a, b);
  ASSERT_TRUE(b.remove("k"));
  sync(b, a);
  put(a, "k", "v2");
  sync(a, b);
  EXPECT_EQ(b.get("k"), "v2");
}

TEST(AwlwwMap, ResetAllDropsSeenKeysButNotConcurrentPuts) {
  AwlwwMap a(1), b(2);
  put(a, "x", "1");
  put(a, "y", "1");
  sync(a, b);
  put(a, "z", "concurrent");
  EXPECT_EQ(b.reset_all().size(), 2u);
  EXPECT_EQ(b.size(), 0u);
  sync(b, a);
  sync(a, b);
  EXPECT_FALSE(a.get("x"));
  EXPECT_FALSE(a.get("y"));
  EXPECT_EQ(a.get("z"), "concurrent");
  EXPECT_TRUE(a.same_state(b));
  put(b, "x", "again");
  sync(b, a);
  EXPECT_EQ(a.get("x"), "again");
}

TEST(AwlwwMap, ConcurrentPutsLastWriterWinsEverywhere) {
  AwlwwMap a(1), b(2);
  put(a, "k", "from a, later", kNow + 10);
  put(b, "k", "from b, earlier", kNow);
  AwlwwMap a2 = a, b2 = b;
  sync(b, a);
  sync(a2, b2);
  EXPECT_EQ(a.get("k"), "from a, later");
  EXPECT_EQ(b2.get("k"), "from a, later");
  EXPECT_TRUE(a.same_state(b2));
}

TEST(AwlwwMap, EqualStampsTieBreakOnReplicaId) {
  AwlwwMap a(1), b(2);
  put(a, "k", "from 1");
  put(b, "k", "from 2");  // same wall time, same logical: the stamps are equal
  ASSERT_EQ(a.find("k")->hlc, b.find("k")->hlc);
  sync(a, b);
  sync(b, a);
  EXPECT_EQ(a.get("k"), "from 2");
  EXPECT_EQ(b.get("k"), "from 2");
}

TEST(AwlwwMap, DeltaMutatorsCarryTheirOwnContextOnly) {
  AwlwwMap a(1), b(2);
  put(a, "k1", "v");
  auto m = a.put("k2", "v", kNow);
  ASSERT_TRUE(m.ok());
  const Delta d = a.delta_of(m.value());
  EXPECT_EQ(d.entries.size(), 1u);
  EXPECT_EQ(d.context, (std::vector<DotRange>{{1, 2, 2}}));
  ASSERT_TRUE(b.join(d, kNow).ok());
  EXPECT_EQ(b.get("k2"), "v");
  EXPECT_FALSE(b.get("k1"));
  // The earlier delta arrives late: nothing is lost, the gap closes.
  ASSERT_TRUE(b.join(a.state_delta(), kNow).ok());
  EXPECT_TRUE(a.same_state(b));
}

// Issue #65: a context that covers a key the delta does not carry deletes it at the receiver.
// join() does exactly what the context says, so the protection is that no delta we build says
// that: see TestNetwork::check_exact. Here: a partial delta with an exact context deletes nothing.
TEST(AwlwwMap, PartialDeltaWithExactContextDeletesNothing) {
  AwlwwMap a(1), b(2);
  for (int i = 0; i < 10; ++i) put(a, "k" + std::to_string(i), "v");
  sync(a, b);
  auto m = a.put("k3", "v2", kNow);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(b.join(a.delta_of(m.value()), kNow).ok());
  EXPECT_EQ(b.size(), 10u);
  EXPECT_EQ(b.get("k3"), "v2");
}

TEST(AwlwwMap, MalformedDeltaIsRefusedWhole) {
  AwlwwMap b(2);
  Delta d;
  d.entries.push_back(DeltaEntry{"k", "v", Dot{1, 5}, 1});
  d.context = {{1, 1, 4}};  // does not cover the entry's dot
  auto r = b.join(d, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), MapError::kMalformedDelta);
  d.context = {{1, 0, 4}};
  EXPECT_FALSE(b.join(d, kNow).ok());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.context().empty());
}

TEST(AwlwwMap, LimitsAreErrors) {
  MapLimits limits;
  limits.max_key_bytes = 4;
  limits.max_value_bytes = 4;
  AwlwwMap m(1, limits);
  EXPECT_EQ(m.put("toolong", "v", kNow).error(), MapError::kKeyTooLong);
  EXPECT_EQ(m.put("k", "toolong", kNow).error(), MapError::kValueTooLarge);
}

TEST(AwlwwMap, ContextFragmentationIsBounded) {
  MapLimits limits;
  limits.max_context_intervals = 4;
  AwlwwMap b(2, limits);
  AwlwwMap a(1);
  std::vector<Mutation> ms;
  for (int i = 0; i < 10; ++i) ms.push_back(a.put("k" + std::to_string(i), "v", kNow).value());
  // Every other delta: each leaves a gap.
  int refused = 0;
  for (int i = 0; i < 10; i += 2) {
    auto r = b.join(a.delta_of(ms[static_cast<std::size_t>(i)]), kNow);
    if (!r.ok()) {
      EXPECT_EQ(r.error(), MapError::kContextFull);
      ++refused;
    }
  }
  EXPECT_GT(refused, 0);
  EXPECT_LE(b.context().interval_count(), 4u);
  ASSERT_TRUE(b.join(a.state_delta(), kNow).ok());  // the gaps filled: one interval
  EXPECT_EQ(b.context().interval_count(), 1u);
}

TEST(AwlwwMap, ListingDropsWhatTheListerKnowsIsDead) {
  AwlwwMap a(1), b(2);
  put(a, "k", "v");
  put(a, "j", "v");
  sync(a, b);
  ASSERT_TRUE(a.remove("k"));  // b misses this removal
  std::vector<std::uint32_t> differ;
  for (std::uint32_t i = 0; i < kBuckets; ++i) {
    if (a.bucket_hashes()[i] != b.bucket_hashes()[i]) differ.push_back(i);
  }
  ASSERT_EQ(differ.size(), 1u);
  auto dropped = b.apply_listing(a.listing(differ, 1 << 20));
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(dropped.value(), 1u);
  EXPECT_FALSE(b.get("k"));
  EXPECT_EQ(b.get("j"), "v");
  EXPECT_EQ(a.bucket_hashes(), b.bucket_hashes());
}

TEST(AwlwwMap, ForgetReplicaOnlyWithoutLiveEntries) {
  AwlwwMap a(1), b(2);
  put(a, "k", "v");
  sync(a, b);
  EXPECT_FALSE(b.forget_replica(1));  // "k" still carries a dot of 1
  put(b, "k", "overwritten");
  EXPECT_TRUE(b.forget_replica(1));
  EXPECT_FALSE(b.context().knows(1));
  // A stale copy of 1's write is ignored rather than resurrected.
  ASSERT_TRUE(b.join(a.state_delta(), kNow).ok());
  EXPECT_EQ(b.get("k"), "overwritten");
  EXPECT_FALSE(b.context().knows(1));
}

// --- join is a join: commutative, associative, idempotent, over random reachable states ---

struct Lab {
  std::vector<AwlwwMap> replicas;
  std::mt19937_64 rng;
  std::uint64_t now = kNow;

  explicit Lab(std::uint64_t seed) : rng(seed) {
    for (ReplicaId r = 1; r <= 3; ++r) replicas.emplace_back(r);
  }
  std::size_t pick() { return rng() % replicas.size(); }
  // Random operations, and random partial exchanges of single deltas or whole states.
  void scramble(int steps) {
    std::vector<std::pair<std::size_t, Delta>> deltas;
    for (int i = 0; i < steps; ++i) {
      now += rng() % 3;
      AwlwwMap& m = replicas[pick()];
      const std::string key = "k" + std::to_string(rng() % 6);
      switch (rng() % 6) {
        case 0:
        case 1:
        case 2: {
          auto mu = m.put(key, "v" + std::to_string(rng() % 100), now - rng() % 5);
          ASSERT_TRUE(mu.ok());
          deltas.emplace_back(pick(), m.delta_of(mu.value()));
          break;
        }
        case 3:
          if (auto mu = m.remove(key)) deltas.emplace_back(pick(), m.delta_of(*mu));
          break;
        case 4:
          if (rng() % 8 == 0) {
            for (const Mutation& mu : m.reset_all()) deltas.emplace_back(pick(), m.delta_of(mu));
          }
          break;
        default:
          ASSERT_TRUE(replicas[pick()].join(m.state_delta(), now).ok());
          break;
      }
      if (!deltas.empty() && rng() % 2 == 0) {  // deliver a random pending delta
        const std::size_t at = rng() % deltas.size();
        ASSERT_TRUE(replicas[deltas[at].first].join(deltas[at].second, now).ok());
        deltas.erase(deltas.begin() + static_cast<std::ptrdiff_t>(at));
      }
    }
  }
};

AwlwwMap joined(const AwlwwMap& a, const AwlwwMap& b) {
  AwlwwMap out = a;
  EXPECT_TRUE(out.join(b.state_delta(), kNow).ok());
  out.check_invariants();
  return out;
}

TEST(AwlwwMapProperties, JoinIsCommutativeAssociativeIdempotent) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    Lab lab(seed);
    lab.scramble(40);
    const AwlwwMap& a = lab.replicas[0];
    const AwlwwMap& b = lab.replicas[1];
    const AwlwwMap& c = lab.replicas[2];
    EXPECT_TRUE(joined(a, b).same_state(joined(b, a)));
    EXPECT_TRUE(joined(joined(a, b), c).same_state(joined(a, joined(b, c))));
    EXPECT_TRUE(joined(a, a).same_state(a));
    EXPECT_TRUE(joined(joined(a, b), b).same_state(joined(a, b)));
    if (::testing::Test::HasFailure()) break;
  }
}

// The states are not all equal to begin with, or the properties above would be trivial.
TEST(AwlwwMapProperties, RandomStatesDiffer) {
  int differing = 0;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    Lab lab(seed);
    lab.scramble(40);
    if (!lab.replicas[0].same_state(lab.replicas[1])) ++differing;
  }
  EXPECT_GT(differing, 40);
}

// Deltas applied in any order, each any number of times, give the same state.
TEST(AwlwwMapProperties, DeltasInAnyOrderWithDuplicatesConverge) {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    std::vector<AwlwwMap> writers;
    for (ReplicaId r = 1; r <= 3; ++r) writers.emplace_back(r);
    std::vector<Delta> deltas;
    for (int i = 0; i < 30; ++i) {
      AwlwwMap& w = writers[rng() % 3];
      const std::string key = "k" + std::to_string(rng() % 5);
      if (rng() % 4 == 0) {
        if (auto m = w.remove(key)) deltas.push_back(w.delta_of(*m));
      } else {
        deltas.push_back(w.delta_of(w.put(key, std::to_string(i), kNow + rng() % 4).value()));
      }
      if (rng() % 3 == 0) {  // writers see each other now and then
        AwlwwMap& other = writers[rng() % 3];
        if (&other != &w) {
          ASSERT_TRUE(other.join(w.state_delta(), kNow).ok());
        }
      }
    }
    AwlwwMap x(10), y(11);
    std::vector<Delta> order = deltas;
    for (const Delta& d : order) ASSERT_TRUE(x.join(d, kNow).ok());
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i = 0; i < deltas.size() / 3; ++i)
      order.push_back(deltas[rng() % deltas.size()]);
    std::shuffle(order.begin(), order.end(), rng);
    for (const Delta& d : order) ASSERT_TRUE(y.join(d, kNow).ok());
    x.check_invariants();
    y.check_invariants();
    EXPECT_TRUE(x.same_state(y));
    // And the deltas say everything: the writers' joined state is the same.
    AwlwwMap all = writers[0];
    ASSERT_TRUE(all.join(writers[1].state_delta(), kNow).ok());
    ASSERT_TRUE(all.join(writers[2].state_delta(), kNow).ok());
    std::vector<std::pair<std::string, std::string>> got, want;
    x.for_each([&](const std::string& k, const Entry& e) { got.emplace_back(k, e.value); });
    all.for_each([&](const std::string& k, const Entry& e) { want.emplace_back(k, e.value); });
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace minotaur::crdt
