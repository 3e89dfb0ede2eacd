#include "game/hex.h"

#include <algorithm>
#include <cstdlib>

#include "base/assert.h"

namespace minotaur::game {

std::int32_t distance(Hex a, Hex b) {
  const std::int32_t dq = a.q - b.q;
  const std::int32_t dr = a.r - b.r;
  return (std::abs(dq) + std::abs(dr) + std::abs(dq + dr)) / 2;
}

bool is_unit_vector(Hex v) {
  return std::find(kUnitVectors.begin(), kUnitVectors.end(), v) != kUnitVectors.end();
}

std::vector<Hex> ring(std::int32_t k) {
  MINOTAUR_ASSERT(k >= 0);
  if (k == 0) return {Hex{0, 0}};
  std::vector<Hex> out;
  out.reserve(static_cast<std::size_t>(6 * k));
  // Start k steps in direction 4 ((-1, 1)), then walk k steps along each of the six directions.
  Hex h{-k, k};
  for (const Hex dir : kUnitVectors) {
    for (std::int32_t i = 0; i < k; ++i) {
      out.push_back(h);
      h = h + dir;
    }
  }
  MINOTAUR_ASSERT(h == (Hex{-k, k}));
  return out;
}

bool on_board(Hex h, std::int32_t radius) {
  return std::max({std::abs(h.q), std::abs(h.r), std::abs(h.q + h.r)}) <= radius;
}

}  // namespace minotaur::game
