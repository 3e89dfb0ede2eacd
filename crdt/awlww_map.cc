#include "crdt/awlww_map.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "base/assert.h"
#include "base/stable_hash.h"

namespace minotaur::crdt {
namespace {

std::uint64_t entry_hash(std::string_view key, Dot dot) {
  return mix64(stable_hash(key) ^ mix64(dot.replica) ^ mix64(dot.counter ^ 0x9e3779b97f4a7c15ULL));
}

// Concurrent writes are ordered by (stamp, replica, counter) on every replica.
bool newer(std::uint64_t hlc_a, Dot a, std::uint64_t hlc_b, Dot b) {
  return std::tie(hlc_a, a.replica, a.counter) > std::tie(hlc_b, b.replica, b.counter);
}

}  // namespace

const char* to_string(MapError e) {
  switch (e) {
    case MapError::kKeyTooLong:
      return "key too long";
    case MapError::kValueTooLarge:
      return "value too large";
    case MapError::kMalformedDelta:
      return "malformed delta";
    case MapError::kContextFull:
      return "causal context full";
  }
  return "unknown map error";
}

AwlwwMap::AwlwwMap(ReplicaId self, MapLimits limits)
    : self_(self), limits_(limits), clock_(limits.max_clock_drift_ms) {
  MINOTAUR_ASSERT(self != 0);
}

std::uint32_t AwlwwMap::bucket_of(std::string_view key) {
  return static_cast<std::uint32_t>(stable_hash(key) % kBuckets);
}

void AwlwwMap::on_live(std::string_view key, const Entry& e, bool added) {
  if (tracking_ && changed_.find(key) == changed_.end()) changed_.emplace(key);
  const std::uint32_t b = bucket_of(key);
  bucket_hash_[b] ^= entry_hash(key, e.dot);
  if (added) {
    ++bucket_count_[b];
    ++live_by_replica_[e.dot.replica];
    return;
  }
  MINOTAUR_ASSERT(bucket_count_[b] > 0);
  --bucket_count_[b];
  const auto it = live_by_replica_.find(e.dot.replica);
  MINOTAUR_ASSERT(it != live_by_replica_.end());
  if (--it->second == 0) live_by_replica_.erase(it);
}

std::vector<std::string> AwlwwMap::take_changed_keys() {
  std::vector<std::string> out(std::make_move_iterator(changed_.begin()),
                               std::make_move_iterator(changed_.end()));
  changed_.clear();
  return out;
}

void AwlwwMap::erase(Entries::iterator it) {
  on_live(it->first, it->second.top, false);
  for (const Entry& e : it->second.others) on_live(it->first, e, false);
  entries_.erase(it);
}

std::vector<Dot> AwlwwMap::dots_of(const Slot& s) {
  std::vector<Dot> out{s.top.dot};
  for (const Entry& e : s.others) out.push_back(e.dot);
  return out;
}

void AwlwwMap::add_to_slot(std::string_view key, Slot& s, Entry e) {
  on_live(key, e, true);
  if (newer(e.hlc, e.dot, s.top.hlc, s.top.dot)) std::swap(e, s.top);
  s.others.push_back(std::move(e));
}

template <class Pred>
bool AwlwwMap::kill_in_slot(std::string_view key, Slot& s, Pred dead) {
  std::erase_if(s.others, [&](const Entry& e) {
    if (!dead(e.dot)) return false;
    on_live(key, e, false);
    return true;
  });
  if (dead(s.top.dot)) {
    on_live(key, s.top, false);
    if (s.others.empty()) return true;
    auto best = s.others.begin();
    for (auto it = s.others.begin(); it != s.others.end(); ++it) {
      if (newer(it->hlc, it->dot, best->hlc, best->dot)) best = it;
    }
    s.top = std::move(*best);
    s.others.erase(best);
  }
  return false;
}

Result<Mutation, MapError> AwlwwMap::put(std::string key, std::string value, std::uint64_t now_ms) {
  if (key.size() > limits_.max_key_bytes) return err(MapError::kKeyTooLong);
  if (value.size() > limits_.max_value_bytes) return err(MapError::kValueTooLarge);
  MINOTAUR_ASSERT(counter_ < kMaxCounter);
  const Dot dot{self_, ++counter_};
  const std::uint64_t hlc = clock_.now(now_ms);
  Mutation m{key, dot, {}};
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    it = entries_.emplace(std::move(key), Slot{Entry{std::move(value), dot, hlc}, {}}).first;
  } else {
    // The write supersedes every write to the key it has seen, losing siblings included.
    m.removed = dots_of(it->second);
    on_live(it->first, it->second.top, false);
    for (const Entry& e : it->second.others) on_live(it->first, e, false);
    it->second.others.clear();
    it->second.top = Entry{std::move(value), dot, hlc};
  }
  on_live(it->first, it->second.top, true);
  context_.add(dot);
  return m;
}

std::optional<Mutation> AwlwwMap::remove(std::string_view key) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  Mutation m{it->first, Dot{}, dots_of(it->second)};
  erase(it);
  return m;
}

std::vector<Mutation> AwlwwMap::reset_all() {
  std::vector<Mutation> out;
  out.reserve(entries_.size());
  for (const auto& [key, slot] : entries_) out.push_back(Mutation{key, Dot{}, dots_of(slot)});
  entries_.clear();
  bucket_hash_.fill(0);
  bucket_count_.fill(0);
  live_by_replica_.clear();
  return out;
}

void AwlwwMap::append_delta(const Mutation& m, DeltaBuilder& out) const {
  // The key's whole current slot goes along: a receiver that learns a write of the key is dead
  // also learns what replaced it, so the key never looks removed while it is not.
  bool added_live = false;
  const auto it = entries_.find(m.key);
  if (it != entries_.end()) {
    for_slot(it->second, [&](const Entry& e) {
      added_live = added_live || e.dot == m.added;
      out.add_entry(DeltaEntry{m.key, e.value, e.dot, e.hlc});
    });
  }
  std::vector<Dot> dead = m.removed;
  if (m.added.valid() && !added_live) dead.push_back(m.added);  // overwritten or removed since
  out.add_tombstone(m.key, std::move(dead));
}

Delta AwlwwMap::delta_of(const Mutation& m) const {
  DeltaBuilder b;
  append_delta(m, b);
  return b.finish();
}

Delta AwlwwMap::state_delta() const {
  Delta d;
  d.entries.reserve(entries_.size());
  for_each_entry([&d](const std::string& key, const Entry& e) {
    d.entries.push_back(DeltaEntry{key, e.value, e.dot, e.hlc});
  });
  d.context = context_.ranges();
  return d;
}

Delta AwlwwMap::drop_forgotten(Delta d) const {
  auto gone = [this](ReplicaId r) { return forgotten_.contains(r); };
  std::erase_if(d.entries, [&](const DeltaEntry& e) { return gone(e.dot.replica); });
  for (Tombstone& t : d.tombstones) {
    std::erase_if(t.dots, [&](const Dot& dot) { return gone(dot.replica); });
  }
  std::erase_if(d.context, [&](const DotRange& r) { return gone(r.replica); });
  return d;
}

Result<Ok, MapError> AwlwwMap::join(Delta d, std::uint64_t now_ms,
                                    std::vector<std::string>* arrived, JoinMode mode) {
  // 1. Check everything before changing anything: the delta is outside input.
  for (const DotRange& r : d.context) {
    if (!valid_range(r)) return err(MapError::kMalformedDelta);
  }
  if (!forgotten_.empty()) d = drop_forgotten(std::move(d));
  const CausalContext dctx = CausalContext::from_ranges(d.context);
  std::vector<Dot> carried;
  carried.reserve(d.entries.size());
  for (const DeltaEntry& e : d.entries) {
    if (!e.dot.valid() || !dctx.contains(e.dot)) return err(MapError::kMalformedDelta);
    if (e.key.size() > limits_.max_key_bytes) return err(MapError::kKeyTooLong);
    if (e.value.size() > limits_.max_value_bytes) return err(MapError::kValueTooLarge);
    carried.push_back(e.dot);
  }
  std::sort(carried.begin(), carried.end());
  if (std::adjacent_find(carried.begin(), carried.end()) != carried.end()) {
    return err(MapError::kMalformedDelta);  // one write carried twice
  }
  for (const Tombstone& t : d.tombstones) {
    if (t.key.size() > limits_.max_key_bytes) return err(MapError::kKeyTooLong);
    for (const Dot& dot : t.dots) {
      if (!dot.valid() || !dctx.contains(dot)) return err(MapError::kMalformedDelta);
    }
  }
  if (context_.interval_count() + dctx.interval_count() > limits_.max_context_intervals) {
    CausalContext trial = context_;
    trial.add_all(dctx);
    if (trial.interval_count() > limits_.max_context_intervals) {
      return err(MapError::kContextFull);
    }
  }
  const auto is_carried = [&carried](Dot dot) {
    return std::binary_search(carried.begin(), carried.end(), dot);
  };

  // 2. Dots of the delta's context that we know already and that it names neither as entry nor
  //    as tombstone: a live entry of ours holding one is dead at the sender. Finding it needs a
  //    scan; it only happens when a catch-up delta races a push (anti-entropy).
  std::vector<DotRange> overlap;
  for (const DotRange& r : d.context) {
    if (mode == JoinMode::kSync) break;
    for (const DotRange& piece : context_.intersect(r)) overlap.push_back(piece);
  }
  if (!overlap.empty()) {
    CausalContext named;
    for (const Dot& dot : carried) named.add(dot);
    for (const Tombstone& t : d.tombstones) {
      for (const Dot& dot : t.dots) named.add(dot);
    }
    const CausalContext unnamed = CausalContext::from_ranges(overlap);
    if (!named.includes(unnamed)) {
      const CausalContext dead = CausalContext::from_ranges(unnamed.minus(named));
      for (auto it = entries_.begin(); it != entries_.end();) {
        if (kill_in_slot(it->first, it->second, [&](Dot dot) { return dead.contains(dot); })) {
          it = entries_.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  // Which tombstoned keys the sender still has (it carries entries for them).
  std::vector<char> present_at_sender(d.tombstones.size(), 0);
  if (mode == JoinMode::kSync && !d.tombstones.empty() && !d.entries.empty()) {
    std::vector<std::string_view> keys;
    keys.reserve(d.entries.size());
    for (const DeltaEntry& e : d.entries) keys.push_back(e.key);
    std::sort(keys.begin(), keys.end());
    for (std::size_t i = 0; i < d.tombstones.size(); ++i) {
      present_at_sender[i] = std::binary_search(keys.begin(), keys.end(), d.tombstones[i].key);
    }
  }

  // 3. Entries: a new write joins its key's slot, and the slot's writes that the sender has seen
  //    and does not carry die. A write we have seen is either live here already or dead here.
  const auto dead_at_sender = [&](Dot dot) { return dctx.contains(dot) && !is_carried(dot); };
  for (DeltaEntry& e : d.entries) {
    clock_.observe(e.hlc, now_ms);
    if (context_.contains(e.dot)) continue;
    auto it = entries_.find(e.key);
    if (it == entries_.end()) {
      it = entries_.emplace(std::move(e.key), Slot{Entry{std::move(e.value), e.dot, e.hlc}, {}})
               .first;
      on_live(it->first, it->second.top, true);
      if (arrived != nullptr) arrived->push_back(it->first);
      continue;
    }
    const Dot top_before = it->second.top.dot;
    if (kill_in_slot(it->first, it->second, dead_at_sender)) {
      it->second = Slot{Entry{std::move(e.value), e.dot, e.hlc}, {}};
      on_live(it->first, it->second.top, true);
    } else {
      add_to_slot(it->first, it->second, Entry{std::move(e.value), e.dot, e.hlc});
    }
    if (arrived != nullptr && it->second.top.dot != top_before) arrived->push_back(it->first);
  }

  // 4. Tombstones: the sender has seen these writes and they are dead there.
  for (std::size_t i = 0; i < d.tombstones.size(); ++i) {
    const auto it = entries_.find(d.tombstones[i].key);
    if (it == entries_.end()) continue;
    if (present_at_sender[i] != 0) {
      bool all_dead = true;
      for_slot(it->second, [&](const Entry& e) { all_dead = all_dead && dead_at_sender(e.dot); });
      if (all_dead) continue;  // kSync: we lack the sender's live write; keep ours meanwhile
    }
    if (kill_in_slot(it->first, it->second, dead_at_sender)) entries_.erase(it);
  }

  context_.add_all(dctx);
  // Never reuse a dot of ours that someone else has seen (a peer replaying an old incarnation).
  counter_ = std::max(counter_, context_.max_counter(self_));
  return Ok{};
}

const Entry* AwlwwMap::find(std::string_view key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second.top;
}

std::optional<std::string_view> AwlwwMap::get(std::string_view key) const {
  const Entry* e = find(key);
  if (e == nullptr) return std::nullopt;
  return std::string_view(e->value);
}

std::vector<ReplicaId> AwlwwMap::live_replicas() const {
  std::vector<ReplicaId> out;
  out.reserve(live_by_replica_.size());
  for (const auto& [r, n] : live_by_replica_) out.push_back(r);
  return out;
}

std::uint64_t AwlwwMap::live_count(ReplicaId r) const {
  const auto it = live_by_replica_.find(r);
  return it == live_by_replica_.end() ? 0 : it->second;
}

std::vector<Delta> AwlwwMap::catch_up(const CausalContext& peer, std::size_t batch_bytes,
                                      std::size_t total_bytes, bool* more) const {
  *more = false;
  std::vector<Delta> out;
  const std::vector<DotRange> diff = context_.minus(peer);
  if (diff.empty()) return out;
  const CausalContext want = CausalContext::from_ranges(diff);
  using Item = std::pair<Dot, const Entries::value_type*>;
  std::vector<Item> live;
  for (const auto& kv : entries_) {
    if (want.contains(kv.second.top.dot)) live.emplace_back(kv.second.top.dot, &kv);
    for (const Entry& e : kv.second.others) {
      if (want.contains(e.dot)) live.emplace_back(e.dot, &kv);
    }
  }
  std::sort(live.begin(), live.end(),
            [](const Item& a, const Item& b) { return a.first < b.first; });

  // Walk the diff ranges and the live entries (both sorted by dot) together. A chunk's context
  // is exactly the stretch of dots it walked over: its entries, and the dead dots between them.
  DeltaBuilder b;
  std::size_t total = 0;
  std::size_t li = 0;
  const auto close = [&] {
    total += b.bytes();
    out.push_back(b.finish());
  };
  for (std::size_t ri = 0; ri < diff.size(); ++ri) {
    const DotRange& r = diff[ri];
    std::uint64_t next = r.first;  // lowest counter of r not yet in a chunk
    while (li < live.size() && live[li].first.replica == r.replica &&
           live[li].first.counter <= r.last) {
      const Dot dot = live[li].first;
      const Entries::value_type& kv = *live[li].second;
      const Entry* e = &kv.second.top;
      for (const Entry& other : kv.second.others) {
        if (other.dot == dot) e = &other;
      }
      if (dot.counter > next) b.add_dead_range(DotRange{r.replica, next, dot.counter - 1});
      b.add_entry(DeltaEntry{kv.first, e->value, dot, e->hlc});
      next = dot.counter + 1;
      ++li;
      if (b.bytes() >= batch_bytes) {
        close();
        if (total >= total_bytes) {
          *more = next <= r.last || ri + 1 < diff.size();
          return out;
        }
      }
    }
    if (next <= r.last) b.add_dead_range(DotRange{r.replica, next, r.last});
    if (b.bytes() >= batch_bytes) {
      close();
      if (total >= total_bytes) {
        *more = ri + 1 < diff.size();
        return out;
      }
    }
  }
  MINOTAUR_ASSERT(li == live.size());
  if (!b.empty()) close();
  return out;
}

Listing AwlwwMap::listing(const std::vector<std::uint32_t>& buckets, std::size_t max_bytes) const {
  Listing l;
  std::array<bool, kBuckets> chosen{};
  std::size_t bytes = 0;
  for (const std::uint32_t b : buckets) {
    MINOTAUR_ASSERT(b < kBuckets);
    const std::size_t est = std::size_t{bucket_count_[b]} * (kEntryOverheadBytes + kDotBytes);
    if (!l.buckets.empty() && bytes + est > max_bytes) break;
    bytes += est;
    chosen[b] = true;
    l.buckets.push_back(b);
  }
  for_each_entry([&](const std::string& key, const Entry& e) {
    if (chosen[bucket_of(key)]) l.entries.push_back(ListedEntry{key, e.dot});
  });
  l.context = context_.ranges();
  return l;
}

Result<std::size_t, MapError> AwlwwMap::apply_listing(const Listing& l) {
  std::array<bool, kBuckets> chosen{};
  for (const std::uint32_t b : l.buckets) {
    if (b >= kBuckets) return err(MapError::kMalformedDelta);
    chosen[b] = true;
  }
  for (const DotRange& r : l.context) {
    if (!valid_range(r)) return err(MapError::kMalformedDelta);
  }
  std::set<std::pair<std::string_view, Dot>> listed;
  std::set<std::string_view> coming;  // keys with a live write of the lister's we have not seen
  for (const ListedEntry& e : l.entries) {
    if (!e.dot.valid()) return err(MapError::kMalformedDelta);
    listed.emplace(e.key, e.dot);
    if (!context_.contains(e.dot)) coming.insert(e.key);
  }
  const CausalContext theirs = CausalContext::from_ranges(l.context);
  std::size_t dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!chosen[bucket_of(it->first)]) {
      ++it;
      continue;
    }
    const std::string_view key = it->first;
    const auto dead = [&](Dot dot) { return theirs.contains(dot) && !listed.contains({key, dot}); };
    // The lister has a live write of the key that we have not seen yet (it is on its way):
    // killing ours now would make the key look removed. Wait for it; a later listing finishes
    // this. (A listed write that we know is dead does not count: the lister is behind.)
    bool all_dead = true;
    for_slot(it->second, [&](const Entry& e) { all_dead = all_dead && dead(e.dot); });
    if (all_dead && coming.contains(key)) {
      ++it;
      continue;
    }
    const bool empty = kill_in_slot(key, it->second, [&](Dot dot) {
      const bool is_dead = dead(dot);
      dropped += is_dead ? 1 : 0;
      return is_dead;
    });
    if (empty) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

bool AwlwwMap::forget_replica(ReplicaId replica) {
  if (replica == self_ || replica == 0 || live_count(replica) != 0) return false;
  context_.forget(replica);
  if (forgotten_.insert(replica).second) {
    forgotten_order_.push_back(replica);
    while (forgotten_order_.size() > limits_.max_forgotten_replicas) {
      forgotten_.erase(forgotten_order_.front());
      forgotten_order_.pop_front();
    }
  }
  return true;
}

void AwlwwMap::check_invariants() const {
  std::array<std::uint64_t, kBuckets> hashes{};
  std::array<std::uint32_t, kBuckets> counts{};
  std::map<ReplicaId, std::uint64_t> by_replica;
  for (const auto& [key, slot] : entries_) {
    for (const Entry& e : slot.others) {
      MINOTAUR_ASSERT(newer(slot.top.hlc, slot.top.dot, e.hlc, e.dot));
    }
  }
  for_each_entry([&](const std::string& key, const Entry& e) {
    MINOTAUR_ASSERT(e.dot.valid());
    MINOTAUR_ASSERT(context_.contains(e.dot));
    const std::uint32_t b = bucket_of(key);
    hashes[b] ^= entry_hash(key, e.dot);
    ++counts[b];
    ++by_replica[e.dot.replica];
  });
  MINOTAUR_ASSERT(hashes == bucket_hash_);
  MINOTAUR_ASSERT(counts == bucket_count_);
  MINOTAUR_ASSERT(by_replica == live_by_replica_);
  MINOTAUR_ASSERT(counter_ >= context_.max_counter(self_));
  MINOTAUR_ASSERT(forgotten_.size() == forgotten_order_.size());
}

bool AwlwwMap::same_state(const AwlwwMap& other) const {
  if (entries_.size() != other.entries_.size() || !(context_ == other.context_)) return false;
  const auto sorted = [](const Slot& slot) {
    std::vector<Entry> all{slot.top};
    all.insert(all.end(), slot.others.begin(), slot.others.end());
    std::sort(all.begin(), all.end(), [](const Entry& a, const Entry& b) { return a.dot < b.dot; });
    return all;
  };
  for (const auto& [key, slot] : entries_) {
    const auto o = other.entries_.find(key);
    if (o == other.entries_.end() || sorted(slot) != sorted(o->second)) return false;
  }
  return true;
}

}  // namespace minotaur::crdt
