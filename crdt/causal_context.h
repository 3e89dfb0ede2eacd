// CausalContext: the set of dots (crdt/dot.h) a replica has seen, stored compactly.
//
// Per replica it keeps disjoint, non-adjacent intervals of counters. In the steady state each
// replica has a single interval 1..n (a version vector entry); a delta that arrives early (loss,
// re-send, reordering) leaves a gap, so a second interval appears (the "dot cloud") and merges
// back when the gap is filled. Memory is O(replicas + gaps); interval_count() is what callers
// bound. Dots of a replica that is gone for good are dropped with forget() — only under the rule
// in crdt/sync_replica.h, because forgetting a dot makes a stale copy of its write look new.
//
// A plain value type: no threads, no I/O. Weakness: the intervals are std::map nodes, so a
// context fragmented into many gaps costs ~64 bytes per gap; callers refuse deltas that would
// fragment it beyond their limit instead of growing without bound.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "crdt/dot.h"

namespace minotaur::crdt {

class CausalContext {
 public:
  bool contains(Dot d) const;
  // Whether every dot of r is in this context.
  bool covers(const DotRange& r) const;
  // Whether every dot of other is in this context.
  bool includes(const CausalContext& other) const;

  void add(Dot d) { add(DotRange{d.replica, d.counter, d.counter}); }
  void add(const DotRange& r);
  void add_all(const CausalContext& other);
  // Drops every dot of replica (see the header note before calling it).
  void forget(ReplicaId replica);

  // All dots as sorted, disjoint, non-adjacent ranges (by replica, then counter).
  std::vector<DotRange> ranges() const;
  // The dots of this context that are not in other, as sorted ranges.
  std::vector<DotRange> minus(const CausalContext& other) const;
  // The parts of r that are in this context, as sorted ranges.
  std::vector<DotRange> intersect(const DotRange& r) const;

  bool knows(ReplicaId replica) const { return by_replica_.contains(replica); }
  // The dots of one replica, as sorted ranges (empty when unknown).
  std::vector<DotRange> ranges_of(ReplicaId replica) const;
  // Highest counter seen of replica, 0 when none.
  std::uint64_t max_counter(ReplicaId replica) const;
  std::vector<ReplicaId> replicas() const;

  bool empty() const { return by_replica_.empty(); }
  std::size_t replica_count() const { return by_replica_.size(); }
  std::size_t interval_count() const { return interval_count_; }

  friend bool operator==(const CausalContext&, const CausalContext&) = default;

  // Builds a context from ranges (any order, may overlap). Ranges must be valid (checked).
  static CausalContext from_ranges(const std::vector<DotRange>& ranges);

 private:
  using Intervals = std::map<std::uint64_t, std::uint64_t>;  // first -> last, disjoint

  void check_invariants() const;

  std::map<ReplicaId, Intervals> by_replica_;
  std::size_t interval_count_ = 0;
};

// Whether r is well formed: nonzero replica, 1 <= first <= last <= kMaxCounter.
inline bool valid_range(const DotRange& r) {
  return r.replica != 0 && r.first != 0 && r.first <= r.last && r.last <= kMaxCounter;
}

}  // namespace minotaur::crdt
