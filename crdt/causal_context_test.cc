#include "crdt/causal_context.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace minotaur::crdt {
namespace {

TEST(CausalContext, ContiguousDotsCollapseIntoOneInterval) {
  CausalContext c;
  c.add(Dot{7, 1});
  c.add(Dot{7, 3});
  EXPECT_EQ(c.interval_count(), 2u);  // a gap at 2: the dot cloud
  EXPECT_FALSE(c.contains(Dot{7, 2}));
  c.add(Dot{7, 2});
  EXPECT_EQ(c.interval_count(), 1u);
  EXPECT_TRUE(c.covers(DotRange{7, 1, 3}));
  EXPECT_FALSE(c.covers(DotRange{7, 1, 4}));
  EXPECT_EQ(c.max_counter(7), 3u);
}

TEST(CausalContext, MinusAndIntersect) {
  CausalContext a = CausalContext::from_ranges({{1, 1, 10}, {2, 5, 6}});
  CausalContext b = CausalContext::from_ranges({{1, 3, 4}, {1, 8, 20}});
  EXPECT_EQ(a.minus(b), (std::vector<DotRange>{{1, 1, 2}, {1, 5, 7}, {2, 5, 6}}));
  EXPECT_EQ(a.intersect(DotRange{1, 9, 30}), (std::vector<DotRange>{{1, 9, 10}}));
  EXPECT_TRUE(a.includes(CausalContext::from_ranges({{1, 2, 9}})));
  EXPECT_FALSE(a.includes(b));
  a.forget(1);
  EXPECT_FALSE(a.knows(1));
  EXPECT_EQ(a.interval_count(), 1u);
}

// Against a plain set of dots, over random operations.
TEST(CausalContext, MatchesASetOfDots) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937_64 rng(seed);
    CausalContext a, b;
    std::set<Dot> sa, sb;
    for (int i = 0; i < 60; ++i) {
      const ReplicaId r = 1 + rng() % 3;
      const std::uint64_t first = 1 + rng() % 40;
      const std::uint64_t last = first + rng() % 4;
      const bool to_a = rng() % 2 == 0;
      (to_a ? a : b).add(DotRange{r, first, last});
      for (std::uint64_t k = first; k <= last; ++k) (to_a ? sa : sb).insert(Dot{r, k});
    }
    std::set<Dot> diff;
    for (const DotRange& r : a.minus(b)) {
      for (std::uint64_t k = r.first; k <= r.last; ++k) diff.insert(Dot{r.replica, k});
    }
    std::set<Dot> want;
    for (const Dot& d : sa) {
      if (!sb.contains(d)) want.insert(d);
    }
    EXPECT_EQ(diff, want);
    for (ReplicaId r = 1; r <= 3; ++r) {
      for (std::uint64_t k = 1; k <= 50; ++k) {
        EXPECT_EQ(a.contains(Dot{r, k}), sa.contains(Dot{r, k}));
      }
    }
    EXPECT_EQ(CausalContext::from_ranges(a.ranges()), a);
  }
}

}  // namespace
}  // namespace minotaur::crdt
