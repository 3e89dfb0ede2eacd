// AwlwwMap: an add-wins last-writer-wins map, the replicated state store's data type.
//
// Modelled on Elixir DeltaCrdt.AWLWWMap. Keys are strings, values bytes. Every put creates a dot
// (crdt/dot.h) and stamps the value with a hybrid logical clock (crdt/hlc.h); the causal context
// (crdt/causal_context.h) records every dot this replica has seen. Rules:
//   - A write supersedes every write it has seen (its delta's context covers their dots).
//   - remove and reset_all kill exactly the writes this replica has seen: a put concurrent with a
//     remove survives it (add wins); a put made after seeing the remove is simply newer.
//   - Concurrent puts to one key: the larger (hlc, replica, counter) wins on every replica. The
//     losers are kept as siblings (not visible to readers) until a write or remove that has seen
//     them kills them: dropping a loser early would let it vanish on one replica while it
//     survives on another that saw a remove of the winner first.
// Join is commutative, associative and idempotent (crdt/awlww_map_test.cc checks it over random
// states). Usually a key holds one live entry; siblings exist only between concurrent writes
// and the next write to the key.
//
// Mutators return a Mutation (the key and the dots it created and killed); delta_of() turns one
// into the classic delta-mutator output, read from the current state, so a log of Mutations holds
// no copies of values (crdt/sync_replica.h keeps such a log). join() applies a delta; it treats
// the delta as outside input: a malformed one is refused whole with an error, nothing changed.
//
// Anti-entropy support: 256 buckets by key hash, each with an XOR hash of its live (key, dot)s,
// kept up to date on every change; catch_up() builds the deltas a peer lacks from its context;
// listing()/apply_listing() find entries a peer knows are dead.
//
// One owner, one thread. Weaknesses: catch_up(), listing() and a join whose context overlaps dots
// we already know without naming them cost a scan of the whole map (anti-entropy only, rare);
// the dots of a replica that is gone are kept until its last live entry is overwritten or
// removed (forget_replica refuses before that).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "crdt/causal_context.h"
#include "crdt/delta.h"
#include "crdt/dot.h"
#include "crdt/hlc.h"

namespace minotaur::crdt {

inline constexpr std::size_t kBuckets = 256;

struct MapLimits {
  std::size_t max_key_bytes = 4096;
  std::size_t max_value_bytes = 16 << 20;
  // Bound on the causal context's intervals (replicas + gaps); a delta that would exceed it is
  // refused (kContextFull) and must be re-sent once the gaps are filled.
  std::size_t max_context_intervals = 1 << 16;
  // Dot replicas remembered after forget_replica, so stale copies of their writes are ignored.
  std::size_t max_forgotten_replicas = 1024;
  std::uint64_t max_clock_drift_ms = 60'000;
};

enum class MapError {
  kKeyTooLong,
  kValueTooLarge,
  kMalformedDelta,  // a dot outside the delta's own context, an invalid dot or range
  kContextFull,     // the delta would fragment the causal context beyond max_context_intervals
};
const char* to_string(MapError e);

struct Entry {
  std::string value;
  Dot dot;
  std::uint64_t hlc = 0;
  friend bool operator==(const Entry&, const Entry&) = default;
};

// What a mutator did: the dot it created (invalid for removals) and the dots it killed.
struct Mutation {
  std::string key;
  Dot added;
  std::vector<Dot> removed;
};

// One live (key, dot) of a bucket listing.
struct ListedEntry {
  std::string key;
  Dot dot;
  friend bool operator==(const ListedEntry&, const ListedEntry&) = default;
};

// Every live entry of some buckets, with the lister's whole context.
struct Listing {
  std::vector<std::uint32_t> buckets;
  std::vector<ListedEntry> entries;
  std::vector<DotRange> context;
  friend bool operator==(const Listing&, const Listing&) = default;
};

class AwlwwMap {
 public:
  explicit AwlwwMap(ReplicaId self, MapLimits limits = {});

  ReplicaId self() const { return self_; }

  Result<Mutation, MapError> put(std::string key, std::string value, std::uint64_t now_ms);
  // Kills the key's live write, if any.
  std::optional<Mutation> remove(std::string_view key);
  // Kills every live write (the journal's reset_all): one Mutation per key.
  std::vector<Mutation> reset_all();

  // Appends the delta of a Mutation, read from the current state, to a builder: the entry if the
  // mutation's write is still live, else its dot as a tombstone; plus the dots it killed.
  void append_delta(const Mutation& m, DeltaBuilder& out) const;
  Delta delta_of(const Mutation& m) const;
  // The whole state as one delta (its context is the whole causal context).
  Delta state_delta() const;

  // kLattice is the plain lattice join (property tests, whole states). kSync is what the sync
  // protocol uses; it never makes a key look removed that is not removed at the sender, at the
  // cost of keeping an outdated write alive as a losing sibling for a while:
  //   - a dot the delta's context covers but names neither as entry nor as tombstone does not
  //     kill our entry (a catch-up chunk may cover a write whose replacement is still on its
  //     way in another chunk);
  //   - tombstones do not kill the last live entries of a key that the delta carries entries
  //     for (all of them dead here: we know they were replaced, but lack the replacement).
  // A later named delta, a write, or an anti-entropy listing kills such leftovers.
  enum class JoinMode { kLattice, kSync };
  // Applies a delta. When arrived is given, every key that got a new winning value is appended.
  Result<Ok, MapError> join(Delta delta, std::uint64_t now_ms,
                            std::vector<std::string>* arrived = nullptr,
                            JoinMode mode = JoinMode::kLattice);

  // The winning entry of a key, as readers see it.
  const Entry* find(std::string_view key) const;
  std::optional<std::string_view> get(std::string_view key) const;
  std::size_t size() const { return entries_.size(); }
  const CausalContext& context() const { return context_; }
  // f(key, winning entry) for every key.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [k, slot] : entries_) f(k, slot.top);
  }
  // f(key, entry) for every live entry, losing siblings included.
  template <class F>
  void for_each_entry(F&& f) const {
    for (const auto& [k, slot] : entries_) {
      f(k, slot.top);
      for (const Entry& e : slot.others) f(k, e);
    }
  }
  // f(entry) for every live entry of key (the winner first).
  template <class F>
  void for_each_entry_of(std::string_view key, F&& f) const {
    const auto it = entries_.find(key);
    if (it != entries_.end()) for_slot(it->second, f);
  }

  // --- anti-entropy ---
  const std::array<std::uint64_t, kBuckets>& bucket_hashes() const { return bucket_hash_; }
  static std::uint32_t bucket_of(std::string_view key);
  // Replicas whose dots are carried by at least one live entry.
  std::vector<ReplicaId> live_replicas() const;
  std::uint64_t live_count(ReplicaId r) const;
  // Deltas holding what a peer with context `peer` lacks: the live entries whose dots it has not
  // seen, and the dead dots it has not seen, in chunks of about batch_bytes, at most total_bytes
  // in all; *more is set when the budget cut it short (ask again).
  std::vector<Delta> catch_up(const CausalContext& peer, std::size_t batch_bytes,
                              std::size_t total_bytes, bool* more) const;
  // Lists the given buckets (sorted, each < kBuckets), stopping after max_bytes (but at least one
  // bucket). Every live entry of a listed bucket is in the listing.
  Listing listing(const std::vector<std::uint32_t>& buckets, std::size_t max_bytes) const;
  // Drops the entries of the listed buckets that the lister knows are dead: their dot is in its
  // context but not in its listing. Returns how many, or an error for a malformed listing.
  Result<std::size_t, MapError> apply_listing(const Listing& listing);

  // --- compaction ---
  // Drops replica's dots from the context and ignores them from now on. Refused (false) for
  // self and while a live entry carries one of its dots. Only safe under the rule in
  // crdt/sync_replica.h (every neighbour has no live entry of it either).
  bool forget_replica(ReplicaId replica);
  bool forgotten(ReplicaId replica) const { return forgotten_.contains(replica); }
  std::size_t forgotten_count() const { return forgotten_.size(); }

  // --- durability (storage/data_dir.h) ---
  // While tracking, every key whose live entries change (a write, a removal, a join) is
  // remembered until take_changed_keys(): what the next commit to the disk must rewrite.
  void track_changes(bool on) { tracking_ = on; }
  std::vector<std::string> take_changed_keys();
  bool has_changed_keys() const { return !changed_.empty(); }

  // O(n) check of every invariant (tests, and after anti-entropy steps).
  void check_invariants() const;
  // Same live entries (key, value, dot, hlc) and same context.
  bool same_state(const AwlwwMap& other) const;

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Slot {
    Entry top;                  // the winner: the largest (hlc, replica, counter)
    std::vector<Entry> others;  // concurrent writes that lose to top
  };
  using Entries = std::unordered_map<std::string, Slot, StringHash, std::equal_to<>>;

  void on_live(std::string_view key, const Entry& e, bool added);
  void erase(Entries::iterator it);
  static std::vector<Dot> dots_of(const Slot& s);
  template <class F>
  static void for_slot(const Slot& s, F&& f) {
    f(s.top);
    for (const Entry& e : s.others) f(e);
  }
  void add_to_slot(std::string_view key, Slot& s, Entry e);
  // Kills the slot's entries whose dot satisfies dead(dot); true when none is left.
  template <class Pred>
  bool kill_in_slot(std::string_view key, Slot& s, Pred dead);
  Delta drop_forgotten(Delta d) const;

  ReplicaId self_;
  MapLimits limits_;
  HybridClock clock_;
  std::uint64_t counter_ = 0;
  Entries entries_;
  CausalContext context_;
  std::array<std::uint64_t, kBuckets> bucket_hash_{};
  std::array<std::uint32_t, kBuckets> bucket_count_{};
  std::map<ReplicaId, std::uint64_t> live_by_replica_;
  std::set<ReplicaId> forgotten_;
  std::deque<ReplicaId> forgotten_order_;
  bool tracking_ = false;
  std::set<std::string, std::less<>> changed_;
};

}  // namespace minotaur::crdt
