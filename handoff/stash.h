// StashStore: what the sessions layer needs of the replicated store — put a session's state,
// read it back, know whether anyone else will hold a copy. handoff::Store (the node's replica on
// Asio) implements it, and so does the simulator's replica (sim/), so that the ownership core
// (sessions/ownership.h) runs unchanged in both.
//
// A stashed value is the session's ownership epoch, its kind and its state (encode_stashed); the
// epoch is what fences a stale owner: a node that finds a higher epoch in the store than the one
// it hosts has been superseded and must not accept changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace minotaur::handoff {

class StashStore {
 public:
  virtual ~StashStore() = default;
  virtual void stash(const std::string& key, std::string value) = 0;
  virtual void remove(const std::string& key) = 0;  // a session that ended for good
  virtual std::optional<std::string> pickup(std::string_view key) const = 0;
  // The epoch of the stashed value, without copying it; nullopt when absent or not a stash.
  virtual std::optional<std::uint64_t> stashed_epoch(std::string_view key) const = 0;
  virtual std::vector<std::string> keys() const = 0;
  // Peers that will receive what is stashed here (0: nobody holds a copy).
  virtual std::size_t peer_count() const = 0;
  // This replica holds everything every peer held at its last digest: what it would pick up
  // is as new as what any live node has. False for a while after a node (re)joins.
  virtual bool caught_up() const = 0;
  // A fresh look at the peers (crdt::SyncReplica::refresh / caught_up_since): true once this
  // replica holds what every peer held after the mark was taken. Sessions are started from the
  // store only then, so that a cut that healed a moment ago hides no newer state.
  virtual std::uint64_t refresh() = 0;
  virtual bool caught_up_since(std::uint64_t mark) const = 0;
};

struct Stashed {
  std::uint64_t epoch = 0;
  bool is_game = true;
  std::string_view holder;  // the node that stashed it (empty in the first layout)
  // Set while the holder hands it over: the node it sends it to. The holder's copy is frozen
  // and equal to this state, so if that node goes down before it stashes its own, the
  // session may be started from here even though the holder lives.
  std::string_view moving_to;
  std::string_view state;  // points into the value it was decoded from
};

// Layout: epoch (8 bytes, little-endian), 'G' (game) or 'L' (lobby), the holder's name length
// (1 byte) and name, the state's bytes. While moving: 'M' (game) or 'N' (lobby), and after the
// holder the target's length (1 byte) and name. The first layout ('g'/'l', no holder) is still
// read, so that nodes of the previous version and this one share a store during a rolling
// deploy.
std::string encode_stashed(std::uint64_t epoch, bool is_game, std::string_view holder,
                           std::string_view state, std::string_view moving_to = {});
std::optional<Stashed> decode_stashed(std::string_view value);

}  // namespace minotaur::handoff
