#include "crdt/causal_context.h"

#include <algorithm>
#include <iterator>

#include "base/assert.h"

namespace minotaur::crdt {
namespace {

using Intervals = std::map<std::uint64_t, std::uint64_t>;

// The interval that holds counter c, or end().
Intervals::const_iterator find_interval(const Intervals& iv, std::uint64_t c) {
  auto it = iv.upper_bound(c);
  if (it == iv.begin()) return iv.end();
  --it;
  return it->second >= c ? it : iv.end();
}

}  // namespace

bool CausalContext::contains(Dot d) const {
  const auto r = by_replica_.find(d.replica);
  if (r == by_replica_.end()) return false;
  return find_interval(r->second, d.counter) != r->second.end();
}

bool CausalContext::covers(const DotRange& range) const {
  const auto r = by_replica_.find(range.replica);
  if (r == by_replica_.end()) return false;
  const auto it = find_interval(r->second, range.first);
  return it != r->second.end() && it->second >= range.last;
}

bool CausalContext::includes(const CausalContext& other) const {
  for (const auto& [replica, iv] : other.by_replica_) {
    for (const auto& [first, last] : iv) {
      if (!covers(DotRange{replica, first, last})) return false;
    }
  }
  return true;
}

void CausalContext::add(const DotRange& range) {
  MINOTAUR_ASSERT(valid_range(range));
  Intervals& iv = by_replica_[range.replica];
  std::uint64_t first = range.first;
  std::uint64_t last = range.last;
  // Merge with every interval that overlaps or touches [first, last].
  auto it = iv.upper_bound(first);
  if (it != iv.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= first - 1) it = prev;  // first >= 1, so first - 1 does not wrap
  }
  while (it != iv.end() && (last == UINT64_MAX || it->first <= last + 1)) {
    first = std::min(first, it->first);
    last = std::max(last, it->second);
    it = iv.erase(it);
    --interval_count_;
  }
  iv.emplace(first, last);
  ++interval_count_;
}

void CausalContext::add_all(const CausalContext& other) {
  for (const auto& [replica, iv] : other.by_replica_) {
    for (const auto& [first, last] : iv) add(DotRange{replica, first, last});
  }
}

void CausalContext::forget(ReplicaId replica) {
  const auto r = by_replica_.find(replica);
  if (r == by_replica_.end()) return;
  interval_count_ -= r->second.size();
  by_replica_.erase(r);
}

std::vector<DotRange> CausalContext::ranges() const {
  std::vector<DotRange> out;
  out.reserve(interval_count_);
  for (const auto& [replica, iv] : by_replica_) {
    for (const auto& [first, last] : iv) out.push_back(DotRange{replica, first, last});
  }
  return out;
}

std::vector<DotRange> CausalContext::ranges_of(ReplicaId replica) const {
  std::vector<DotRange> out;
  const auto r = by_replica_.find(replica);
  if (r == by_replica_.end()) return out;
  for (const auto& [first, last] : r->second) out.push_back(DotRange{replica, first, last});
  return out;
}

std::vector<DotRange> CausalContext::intersect(const DotRange& range) const {
  std::vector<DotRange> out;
  const auto r = by_replica_.find(range.replica);
  if (r == by_replica_.end()) return out;
  const Intervals& iv = r->second;
  auto it = iv.upper_bound(range.first);
  if (it != iv.begin()) --it;
  for (; it != iv.end() && it->first <= range.last; ++it) {
    const std::uint64_t lo = std::max(it->first, range.first);
    const std::uint64_t hi = std::min(it->second, range.last);
    if (lo <= hi) out.push_back(DotRange{range.replica, lo, hi});
  }
  return out;
}

std::vector<DotRange> CausalContext::minus(const CausalContext& other) const {
  std::vector<DotRange> out;
  for (const auto& [replica, iv] : by_replica_) {
    const auto o = other.by_replica_.find(replica);
    for (const auto& [first, last] : iv) {
      if (o == other.by_replica_.end()) {
        out.push_back(DotRange{replica, first, last});
        continue;
      }
      // Walk the other's intervals that overlap [first, last] and emit the holes between them.
      std::uint64_t next = first;  // lowest counter not yet accounted for
      bool done = false;
      auto it = o->second.upper_bound(first);
      if (it != o->second.begin()) --it;
      for (; it != o->second.end() && it->first <= last; ++it) {
        if (it->second < next) continue;
        if (it->first > next) out.push_back(DotRange{replica, next, it->first - 1});
        if (it->second >= last) {
          done = true;
          break;
        }
        next = it->second + 1;
      }
      if (!done) out.push_back(DotRange{replica, next, last});
    }
  }
  return out;
}

std::uint64_t CausalContext::max_counter(ReplicaId replica) const {
  const auto r = by_replica_.find(replica);
  if (r == by_replica_.end() || r->second.empty()) return 0;
  return r->second.rbegin()->second;
}

std::vector<ReplicaId> CausalContext::replicas() const {
  std::vector<ReplicaId> out;
  out.reserve(by_replica_.size());
  for (const auto& [replica, iv] : by_replica_) out.push_back(replica);
  return out;
}

CausalContext CausalContext::from_ranges(const std::vector<DotRange>& ranges) {
  CausalContext c;
  for (const DotRange& r : ranges) c.add(r);
  c.check_invariants();
  return c;
}

void CausalContext::check_invariants() const {
  std::size_t n = 0;
  for (const auto& [replica, iv] : by_replica_) {
    MINOTAUR_ASSERT(replica != 0);
    MINOTAUR_ASSERT(!iv.empty());
    std::uint64_t prev_last = 0;
    for (const auto& [first, last] : iv) {
      MINOTAUR_ASSERT(first <= last);
      MINOTAUR_ASSERT(prev_last == 0 || first > prev_last + 1);
      prev_last = last;
      ++n;
    }
  }
  MINOTAUR_ASSERT(n == interval_count_);
}

}  // namespace minotaur::crdt
