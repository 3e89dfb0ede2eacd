// Delta: a piece of replicated-map state that one replica sends another (crdt/awlww_map.h).
//
// A delta carries live entries, tombstones (dots the sender knows are dead, with the key they
// belonged to) and a causal context. The context is exact (the lesson of Elixir DeltaCrdt issue
// #65): every dot in it is either carried as an entry or dead at the sender when the delta was
// made. A receiver may therefore drop any of its own entries whose dot the context covers and the
// delta does not carry — and never anything else. DeltaBuilder is the one place that computes a
// context, from exactly the dots appended to it, plus ranges the caller knows to be dead.
//
// Plain values; no threads. The byte sizes are estimates of the encoded size (crdt/codec.h), used
// to bound batches, not exact wire sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "crdt/dot.h"

namespace minotaur::crdt {

struct DeltaEntry {
  std::string key;
  std::string value;
  Dot dot;
  std::uint64_t hlc = 0;  // the write's stamp (crdt/hlc.h); ties break on dot.replica
  friend bool operator==(const DeltaEntry&, const DeltaEntry&) = default;
};

struct Tombstone {
  std::string key;
  std::vector<Dot> dots;  // dots of writes to key that are dead at the sender
  friend bool operator==(const Tombstone&, const Tombstone&) = default;
};

struct Delta {
  std::vector<DeltaEntry> entries;
  std::vector<Tombstone> tombstones;
  std::vector<DotRange> context;  // sorted, disjoint (as CausalContext::ranges gives them)

  bool empty() const { return entries.empty() && tombstones.empty() && context.empty(); }
  friend bool operator==(const Delta&, const Delta&) = default;
};

// Estimated encoded sizes, to bound batches.
inline constexpr std::size_t kEntryOverheadBytes = 40;
inline constexpr std::size_t kDotBytes = 20;
inline constexpr std::size_t kRangeBytes = 24;

// Collects entries and tombstones and seals them with the exact context of their dots.
class DeltaBuilder {
 public:
  void add_entry(DeltaEntry e);
  void add_tombstone(std::string key, std::vector<Dot> dots);
  // Dots the caller knows are dead at this replica and that no live entry of it carries.
  void add_dead_range(const DotRange& r);

  std::size_t bytes() const { return bytes_; }
  bool empty() const {
    return delta_.entries.empty() && delta_.tombstones.empty() && dead_.empty();
  }
  // The delta, with a context of exactly the dots added; the builder is empty again after.
  Delta finish();

 private:
  Delta delta_;
  std::vector<DotRange> dead_;
  std::size_t bytes_ = 0;
};

}  // namespace minotaur::crdt
