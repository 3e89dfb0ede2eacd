#include "crdt/hlc.h"

#include <algorithm>

#include "base/assert.h"

namespace minotaur::crdt {

std::uint64_t HybridClock::now(std::uint64_t wall_ms) {
  const std::uint64_t physical = hlc_make(std::min(wall_ms, kHlcMaxWallMs), 0);
  const std::uint64_t before = last_;
  // Past the physical time: count up; the logical bits carry into the milliseconds on overflow.
  last_ = std::max(physical, last_ + 1);
  MINOTAUR_ASSERT(last_ > before);
  return last_;
}

void HybridClock::observe(std::uint64_t remote_stamp, std::uint64_t wall_ms) {
  const std::uint64_t limit_ms = std::min(wall_ms + max_drift_ms_, kHlcMaxWallMs);
  const std::uint64_t bounded = std::min(remote_stamp, hlc_make(limit_ms, kHlcLogicalMask));
  last_ = std::max(last_, bounded);
}

}  // namespace minotaur::crdt
