#include "crdt/delta.h"

#include <algorithm>
#include <utility>

#include "base/assert.h"
#include "crdt/causal_context.h"

namespace minotaur::crdt {

void DeltaBuilder::add_entry(DeltaEntry e) {
  MINOTAUR_ASSERT(e.dot.valid());
  bytes_ += kEntryOverheadBytes + e.key.size() + e.value.size();
  delta_.entries.push_back(std::move(e));
}

void DeltaBuilder::add_tombstone(std::string key, std::vector<Dot> dots) {
  if (dots.empty()) return;
  bytes_ += kEntryOverheadBytes + key.size() + kDotBytes * dots.size();
  delta_.tombstones.push_back(Tombstone{std::move(key), std::move(dots)});
}

void DeltaBuilder::add_dead_range(const DotRange& r) {
  MINOTAUR_ASSERT(valid_range(r));
  bytes_ += kRangeBytes;
  dead_.push_back(r);
}

Delta DeltaBuilder::finish() {
  // A key's slot may have been appended by several records: carry each write once.
  std::sort(delta_.entries.begin(), delta_.entries.end(),
            [](const DeltaEntry& a, const DeltaEntry& b) { return a.dot < b.dot; });
  delta_.entries.erase(
      std::unique(delta_.entries.begin(), delta_.entries.end(),
                  [](const DeltaEntry& a, const DeltaEntry& b) { return a.dot == b.dot; }),
      delta_.entries.end());
  // Collect every dot as a one-dot range, sort, and merge runs: O(n log n) without the map
  // nodes a CausalContext would allocate.
  std::vector<DotRange> dots = std::move(dead_);
  dots.reserve(dots.size() + delta_.entries.size() + delta_.tombstones.size());
  for (const DeltaEntry& e : delta_.entries) {
    dots.push_back(DotRange{e.dot.replica, e.dot.counter, e.dot.counter});
  }
  for (const Tombstone& t : delta_.tombstones) {
    for (const Dot& d : t.dots) {
      MINOTAUR_ASSERT(d.valid());
      dots.push_back(DotRange{d.replica, d.counter, d.counter});
    }
  }
  std::sort(dots.begin(), dots.end());
  std::vector<DotRange>& ctx = delta_.context;
  ctx.clear();
  for (const DotRange& r : dots) {
    if (!ctx.empty() && ctx.back().replica == r.replica && r.first <= ctx.back().last + 1) {
      ctx.back().last = std::max(ctx.back().last, r.last);
    } else {
      ctx.push_back(r);
    }
  }
  Delta out = std::move(delta_);
  delta_ = Delta{};
  dead_.clear();
  bytes_ = 0;
  return out;
}

}  // namespace minotaur::crdt
