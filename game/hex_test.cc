#include "game/hex.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace minotaur::game {
namespace {

TEST(Hex, DistanceIsTheNumberOfUnitSteps) {
  EXPECT_EQ(distance({0, 0}, {0, 0}), 0);
  for (const Hex v : kUnitVectors) EXPECT_EQ(distance({0, 0}, v), 1);
  EXPECT_EQ(distance({0, 0}, {2, -1}), 2);
  EXPECT_EQ(distance({-1, 0}, {1, 0}), 2);
  EXPECT_EQ(distance({-2, 3}, {3, -2}), 5);
  EXPECT_EQ(distance({1, 1}, {-1, -1}), 4);
  EXPECT_EQ(distance({3, -1}, {0, 0}), distance({0, 0}, {3, -1}));
}

TEST(Hex, OnlyTheSixUnitVectorsAreUnitVectors) {
  for (const Hex v : kUnitVectors) EXPECT_TRUE(is_unit_vector(v));
  EXPECT_FALSE(is_unit_vector({0, 0}));
  EXPECT_FALSE(is_unit_vector({1, 1}));
  EXPECT_FALSE(is_unit_vector({-1, -1}));
  EXPECT_FALSE(is_unit_vector({2, 0}));
}

TEST(Hex, BoardIsEveryHexWithinTheRadius) {
  EXPECT_TRUE(on_board({0, 0}, 4));
  EXPECT_TRUE(on_board({4, -4}, 4));
  EXPECT_TRUE(on_board({-4, 0}, 4));
  EXPECT_FALSE(on_board({4, 1}, 4));   // |q + r| = 5
  EXPECT_FALSE(on_board({5, -5}, 4));  // |q| = 5
  EXPECT_FALSE(on_board({0, -5}, 4));
  int count = 0;
  for (int q = -6; q <= 6; ++q) {
    for (int r = -6; r <= 6; ++r) count += on_board({q, r}, 4) ? 1 : 0;
  }
  EXPECT_EQ(count, 61);  // 3 * 4 * 5 + 1
}

TEST(Hex, RingHoldsEveryHexAtThatDistanceOnce) {
  EXPECT_EQ(ring(0), (std::vector<Hex>{Hex{0, 0}}));
  for (int k = 1; k <= 5; ++k) {
    const auto hexes = ring(k);
    EXPECT_EQ(hexes.size(), static_cast<std::size_t>(6 * k));
    std::set<std::pair<int, int>> seen;
    for (const Hex h : hexes) {
      EXPECT_EQ(distance({0, 0}, h), k);
      seen.insert({h.q, h.r});
    }
    EXPECT_EQ(seen.size(), hexes.size());
  }
}

}  // namespace
}  // namespace minotaur::game
