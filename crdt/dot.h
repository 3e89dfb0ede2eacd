// Dots: the identity of one write in the replicated map (crdt/awlww_map.h).
//
// A dot is (replica, counter): replica is the id of one incarnation of a node (a restarted node
// gets a fresh id), counter counts that incarnation's writes from 1. Every put creates exactly one
// new dot, so a dot names one write everywhere, and "have I seen this write?" is "is the dot in my
// causal context?" (crdt/causal_context.h). Plain values; no ownership, no threads.
#pragma once

#include <compare>
#include <cstdint>

namespace minotaur::crdt {

// One incarnation of a node. 0 is never a valid id.
using ReplicaId = std::uint64_t;

// Counters above this are refused from the wire, so counter + 1 never overflows.
inline constexpr std::uint64_t kMaxCounter = std::uint64_t{1} << 62;

struct Dot {
  ReplicaId replica = 0;
  std::uint64_t counter = 0;  // 1, 2, ... ; 0 means "no dot"

  bool valid() const { return replica != 0 && counter != 0 && counter <= kMaxCounter; }
  friend auto operator<=>(const Dot&, const Dot&) = default;
};

// The dots replica:first..replica:last, both ends included (1 <= first <= last <= kMaxCounter).
struct DotRange {
  ReplicaId replica = 0;
  std::uint64_t first = 0;
  std::uint64_t last = 0;

  std::uint64_t count() const { return last - first + 1; }
  friend auto operator<=>(const DotRange&, const DotRange&) = default;
};

}  // namespace minotaur::crdt
