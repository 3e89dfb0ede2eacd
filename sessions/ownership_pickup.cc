// Ownership and the replicated store: starting a session from it (a pick-up, after a crash or
// when nobody hands a session over), and what tells whether it may be: whether the node that
// stashed it last is gone, and whether this replica caught up since the last change.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sessions/ownership.h"

namespace minotaur::sessions {

const std::string& Ownership::self_id() const {
  return options_.self_id.empty() ? options_.self : options_.self_id;
}

// The node that stashed it last ("name#incarnation") is known to be gone: that incarnation is
// down, or a newer one of its name exists. A holder this node has not heard of yet (it just
// joined) is not gone: the session may be alive there.
bool Ownership::holder_gone(std::string_view holder) const {
  if (holder.empty()) return true;  // the first stash layout names no holder
  const auto hash = holder.rfind('#');
  if (hash == std::string_view::npos) return false;
  std::uint64_t incarnation = 0;
  for (char c : holder.substr(hash + 1)) {
    if (c < '0' || c > '9') return false;
    incarnation = incarnation * 10 + static_cast<std::uint64_t>(c - '0');
  }
  const auto it = members_.find(holder.substr(0, hash));
  if (it == members_.end()) return false;
  return it->second.incarnation > incarnation ||
         (it->second.incarnation == incarnation && !it->second.alive);
}

bool Ownership::store_fresh() const {
  return store_ == nullptr || (store_->caught_up() && store_->caught_up_since(store_mark_));
}

void Ownership::look_again() {
  if (store_ != nullptr) store_mark_ = store_->refresh();
}

void Ownership::set_quorum(bool has_quorum) {
  if (has_quorum && !quorum_) look_again();
  quorum_ = has_quorum;
}

void Ownership::set_in_touch(bool all_in_touch) {
  // Back in touch with everyone (a cut healed): what the others wrote meanwhile is not here yet.
  if (all_in_touch && !in_touch_) look_again();
  in_touch_ = all_in_touch;
}

bool Ownership::holder_alive(const std::string& key) const {
  if (store_ == nullptr) return false;
  const auto value = store_->pickup(key);
  if (!value) return false;
  const auto s = handoff::decode_stashed(*value);
  if (!s) return false;
  return !orphaned(*s);
}

// Nobody will hand the stashed session over (asked only for a session this node does not
// host): the node that stashed it is gone — or, while a hand-off runs, the target is (the
// holder's copy is frozen and equal to the stash). A target that took the session stashed its
// own state at once, so a store that caught up since the holder was known gone would show
// that instead; and it ignores transfers from a holder the cluster declared down. Our own
// stash, not naming a target, of a session we no longer host (we dropped a stale copy) is
// orphaned too: nobody else will hand it over. (holder_alive said so, pick_up did not: a call
// was served by a host without the session and answered 404.)
bool Ownership::orphaned(const handoff::Stashed& s) const {
  if (s.holder == self_id() && s.moving_to.empty()) return true;
  return holder_gone(s.holder) || (!s.moving_to.empty() && holder_gone(s.moving_to));
}

bool Ownership::pick_up(const std::string& key, bool only_if_holder_gone, std::uint64_t at_least) {
  if (store_ == nullptr) return false;
  if (!store_fresh() || !quorum_) {
    // This replica may hold an older state than a peer does (it joined, or a cut healed, a
    // moment ago): starting from it would lose what the newer one has. Or this node is cut off
    // from the majority, which may be serving the session. Retried on tick.
    orphans_pending_ = true;
    return false;
  }
  const auto value = store_->pickup(key);
  if (!value) return false;
  const auto s = handoff::decode_stashed(*value);
  if (!s) {
    spdlog::error("session {}: the replicated value is not a stashed session; ignoring it", key);
    return false;
  }
  if (only_if_holder_gone && !orphaned(*s)) return false;
  if (only_if_holder_gone && !in_touch_) {
    orphans_pending_ = true;  // a live member out of touch may hold a newer state: later
    return false;
  }
  // A stash taken while handing over names a target that may have started the session at the
  // next epoch before it died: skip that one, so that an epoch names one owner.
  const std::uint64_t epoch = std::max(s->epoch + (s->moving_to.empty() ? 1 : 2), at_least);
  if (auto ok = states_.install(key, s->state, s->is_game, epoch); !ok) {
    spdlog::error("session {}: the replicated state cannot be started: {}", key, ok.error());
    return false;
  }
  ++counters_.picked_up;
  spdlog::info("session {}: picked up from the replicated store (epoch {})", key, epoch);
  changed(key);  // the new epoch in the store fences any older copy
  // It accepts no change until a peer holds that stash: were this node cut off now, with the
  // stash only here, the majority would pick the session up from the older one, at this same
  // epoch, and one epoch would name two owners. Reads go on meanwhile.
  confirm(key);
  wake(key);
  return true;
}

// A hand-off's target died with the session ours again (Move::reclaim): the frozen copy here
// may be older than what the target stashed before it died, its acknowledgement lost. Once the
// store may be started from, the session starts from there — the newer of the two, at an epoch
// past the one the target may have used — unless another node alive stashed it later and
// serves it. The copy is dropped only then: dropped earlier, the store would name this node
// as the session's holder, so a later owner would wait for this node to hand it over, and it
// never would. true when the move is over.
bool Ownership::reclaim(const std::string& key) {
  if (store_ == nullptr || !quorum_ || !store_fresh() || !in_touch_) return false;
  const Move m = moves_.at(key);
  moves_.erase(key);
  if (!store_->pickup(key)) {
    finish_move(key, false);  // nothing stashed (nor by the target): this copy is the newest
    return true;
  }
  forget(key);
  (void)pick_up(key, /*only_if_holder_gone=*/true, /*at_least=*/m.epoch + 2);
  wake(key);
  return true;
}

// After a crash: every session this node owns now but does not host, whose state the store has.
void Ownership::pick_up_orphans() {
  if (store_ == nullptr) return;
  orphans_pending_ = false;
  for (const std::string& key : store_->keys()) {
    if (!states_.hosts(key) && !moving(key) && owner(key) == options_.self) {
      (void)pick_up(key, /*only_if_holder_gone=*/true);
    }
  }
}

}  // namespace minotaur::sessions
