// HybridClock: the hybrid logical clock that stamps every write of the replicated map.
//
// A stamp is one 64-bit number: the upper 48 bits are wall-clock milliseconds, the lower 16 a
// logical counter. now() never returns the same stamp twice and never goes backwards, even when
// the wall clock does; observe() folds in a stamp seen from another replica, so a write made
// after seeing another write always gets a larger stamp (causality), while stamps stay close to
// real time. Two writes are ordered by (stamp, replica id): the replica id breaks ties, so every
// replica orders concurrent writes the same way (crdt/awlww_map.h).
//
// Time is passed in (wall_ms); nothing here reads a clock. One owner, no threads.
// Weaknesses: a remote stamp more than max_drift_ms ahead of our wall clock is only folded in
// up to wall_ms + max_drift_ms (a node with a clock far in the future cannot drag everyone
// along, but its writes keep winning until real time catches up). More than 65535 stamps in one
// millisecond borrow the next millisecond.
#pragma once

#include <cstdint>

namespace minotaur::crdt {

inline constexpr int kHlcLogicalBits = 16;
inline constexpr std::uint64_t kHlcLogicalMask = (std::uint64_t{1} << kHlcLogicalBits) - 1;
// Wall milliseconds must fit the upper 48 bits (until the year 10889).
inline constexpr std::uint64_t kHlcMaxWallMs = (std::uint64_t{1} << (64 - kHlcLogicalBits)) - 1;

inline constexpr std::uint64_t hlc_wall_ms(std::uint64_t stamp) {
  return stamp >> kHlcLogicalBits;
}
inline constexpr std::uint64_t hlc_logical(std::uint64_t stamp) {
  return stamp & kHlcLogicalMask;
}
inline constexpr std::uint64_t hlc_make(std::uint64_t wall_ms, std::uint64_t logical) {
  return (wall_ms << kHlcLogicalBits) | logical;
}

class HybridClock {
 public:
  explicit HybridClock(std::uint64_t max_drift_ms = 60'000) : max_drift_ms_(max_drift_ms) {}

  // A new stamp, larger than every stamp returned or observed before.
  std::uint64_t now(std::uint64_t wall_ms);
  // Folds in a stamp seen from another replica (bounded by wall_ms + max_drift_ms).
  void observe(std::uint64_t remote_stamp, std::uint64_t wall_ms);

  std::uint64_t last() const { return last_; }

 private:
  std::uint64_t last_ = 0;
  std::uint64_t max_drift_ms_;
};

}  // namespace minotaur::crdt
