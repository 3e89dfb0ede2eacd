// Ownership: the calls (decide, and what a served call changes), the invariants and the tick.
// Starting sessions from the replicated store (ownership_pickup.cc) and the hand-off
// (ownership_handoff.cc) have files of their own.
#include "sessions/ownership.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/assert.h"
#include "sessions/placement.h"

namespace minotaur::sessions {

namespace {

Decision wait_until(std::int64_t until_ms) {
  Decision d;
  d.kind = Decision::Kind::kWait;
  d.until_ms = until_ms;
  return d;
}

Decision refuse(SessionError e) {
  Decision d;
  d.kind = Decision::Kind::kRefuse;
  d.error = std::move(e);
  return d;
}

}  // namespace

Ownership::Ownership(OwnershipOptions options, SessionStates& states, handoff::StashStore* store)
    : options_(std::move(options)), states_(states), store_(store) {
  MINOTAUR_ASSERT(!options_.self.empty());
}

std::string Ownership::owner(const std::string& key) const {
  return owner_of(key, serving_);
}

void Ownership::check_invariants(const std::string& key) const {
  if (fenced_) {
    MINOTAUR_ASSERT(moves_.empty() && confirming_.empty() && sends_.empty() && serving_.empty());
    MINOTAUR_ASSERT(!states_.hosts(key));
    return;
  }
  if (moves_.count(key) != 0) {
    MINOTAUR_ASSERT(states_.hosts(key));
    MINOTAUR_ASSERT(states_.frozen(key));
  }
  if (confirming_.count(key) != 0) MINOTAUR_ASSERT(states_.hosts(key));
  if (draining_) {
    MINOTAUR_ASSERT(std::find(serving_.begin(), serving_.end(), options_.self) == serving_.end());
  }
}

void Ownership::check_all_invariants() const {
  if (fenced_) {
    MINOTAUR_ASSERT(moves_.empty() && confirming_.empty() && sends_.empty() && serving_.empty());
    MINOTAUR_ASSERT(states_.keys().empty());
    return;
  }
  for (const auto& [key, move] : moves_) check_invariants(key);
  for (const std::string& key : confirming_) check_invariants(key);
  if (draining_) {
    MINOTAUR_ASSERT(std::find(serving_.begin(), serving_.end(), options_.self) == serving_.end());
  }
}

// ---- calls -----------------------------------------------------------------------------------

void Ownership::fence() {
  fenced_ = true;
  for (const std::string& key : states_.keys()) states_.remove(key);
  confirming_.clear();
  to_confirm_.clear();
  confirm_again_.clear();
  ready_wanted_.clear();
  moves_.clear();
  sends_.clear();
  serving_.clear();
}

std::size_t Ownership::reset() {
  if (fenced_) return 0;
  const std::vector<std::string> keys = states_.keys();
  for (const std::string& key : keys) {
    forget(key);
    wake(key);
  }
  moves_.clear();
  to_confirm_.clear();
  confirm_again_.clear();
  ready_wanted_.clear();
  rebalance_pending_ = false;
  orphans_pending_ = false;
  if (store_ != nullptr) {
    for (const std::string& key : store_->keys()) store_->remove(key);
  }
  spdlog::warn("sessions: reset: dropped all {} sessions hosted here and every stash", keys.size());
  return keys.size();
}

Decision Ownership::decide(const std::string& key, CallKind kind, std::int64_t now_ms) {
  if (fenced_) return wait_until(now_ms + 1000);
  const std::string o = owner(key);
  if (o.empty()) return wait_until(now_ms + 100);  // no node serves: membership will change
  if (o != options_.self) {
    Decision d;
    d.kind = Decision::Kind::kForward;
    d.owner = o;
    return d;
  }
  if (moving(key)) return wait_until(now_ms + options_.ack_timeout_ms);  // woken when it ends
  if (!states_.hosts(key)) {
    const std::string before = owner_of(key, previous_serving_);
    if (kind != CallKind::kCreate && now_ms - last_change_ms_ < options_.arrival_wait_ms &&
        !before.empty() && before != options_.self) {
      // Placement gave it to us recently, from another node: its state may be on its way.
      // Woken on arrival.
      ++counters_.waits_for_arrival;
      return wait_until(last_change_ms_ + options_.arrival_wait_ms);
    }
    // Nobody handed it over. Start it from the store only when the node that stashed it last
    // is known to be gone (down, or an earlier life of a restarted node): a holder that is
    // alive, or not known here yet, is slow or cut off, and will hand it over or lose its lease
    // and be declared down (then on_membership_changed picks it up). Until then the call waits.
    if (!pick_up(key, /*only_if_holder_gone=*/true) &&
        (holder_alive(key) || !in_touch_ || !store_fresh())) {
      return wait_until(now_ms + 100);
    }
  } else if (superseded(key)) {
    // Another node took it over while we were cut off or slow to learn: our copy is stale.
    spdlog::warn(
        "session {}: the store has a newer owner's state (epoch {} > {}); dropping the "
        "stale copy here",
        key, store_->stashed_epoch(key).value_or(0), states_.epoch(key));
    ++counters_.superseded;
    forget(key);
    (void)pick_up(key);
  }
  if (kind != CallKind::kRead) {
    if (!quorum_) {
      // Cut off from most of the cluster (or just started and not yet confirmed by it): wait
      // for the quorum to come back; the caller gives this error when its deadline passes.
      ++counters_.waits_for_quorum;
      Decision d = wait_until(now_ms + 50);
      d.error = SessionError(ErrorCode::kNoQuorum);
      return d;
    }
    if (options_.sync && store_ != nullptr && store_->peer_count() == 0) {
      // --replication sync promises another node's acknowledgement; alone (the only node, or
      // cut off from the others) this node cannot give it, so it changes nothing.
      return refuse(SessionError(ErrorCode::kNoReplica));
    }
    if (confirming_.count(key) != 0) {
      // Picked up a moment ago: waits until a peer holds the new epoch (pick_up). Woken then.
      ++counters_.waits_for_confirm;
      Decision d = wait_until(now_ms + options_.ack_timeout_ms);
      d.error = SessionError(ErrorCode::kSessionStarting);
      return d;
    }
  }
  return Decision{};
}

void Ownership::drop(const std::string& key) {
  if (fenced_ || !states_.hosts(key) || moving(key)) return;
  forget(key);
  if (store_ != nullptr) store_->remove(key);
  const auto k = SessionKey::parse(key);
  ++(k && !k->is_game() ? counters_.lobbies_dropped : counters_.games_dropped);
  wake(key);
}

void Ownership::created(const std::string& key) {
  if (fenced_ || store_ == nullptr || !states_.hosts(key)) return;
  confirm(key);
}

void Ownership::confirm(const std::string& key) {
  if (!options_.unsafe_skip_confirm && confirming_.insert(key).second) to_confirm_.push_back(key);
}

void Ownership::forget(const std::string& key) {
  states_.remove(key);
  confirming_.erase(key);
}

std::vector<std::string> Ownership::take_confirms() {
  return std::exchange(to_confirm_, {});
}

void Ownership::on_confirmed(const std::vector<std::string>& keys, bool acknowledged) {
  if (fenced_) return;
  for (const std::string& key : keys) {
    if (confirming_.count(key) == 0) continue;  // handed on or dropped meanwhile
    if (!acknowledged) {
      confirm_again_.push_back(key);  // no peer answered in time: ask again at the next tick
      continue;
    }
    confirming_.erase(key);
    ++counters_.pickups_confirmed;
    wake(key);
  }
}

void Ownership::changed(const std::string& key) {
  if (fenced_ || store_ == nullptr || !states_.hosts(key)) return;
  const auto [state, is_game] = states_.export_state(key);
  store_->stash(key, handoff::encode_stashed(states_.epoch(key), is_game, self_id(), state));
}

bool Ownership::superseded(const std::string& key) const {
  if (store_ == nullptr) return false;
  const auto stored = store_->stashed_epoch(key);
  return stored && *stored > states_.epoch(key);
}

void Ownership::tick(std::int64_t now_ms) {
  if (fenced_) return;
  if (!ready_wanted_.empty() && !draining_ && quorum_ && store_fresh()) {
    for (const auto& [key, from] : std::exchange(ready_wanted_, {})) {
      Send s;
      s.to = from;
      v1::TransferAck* ack = s.envelope.mutable_transfer_ack();
      ack->set_key(key);
      ack->set_retry(true);
      ack->set_ready(true);
      sends_.push_back(std::move(s));
    }
  }
  for (std::string& key : std::exchange(confirm_again_, {})) {
    if (confirming_.count(key) != 0) to_confirm_.push_back(std::move(key));
  }
  if (rebalance_pending_ && moves_.size() <= options_.max_moves_in_flight / 2) rebalance(now_ms);
  if (orphans_pending_ && store_ != nullptr && store_fresh() && quorum_ && in_touch_) {
    pick_up_orphans();
  }
  std::vector<std::string> due;
  for (const auto& [key, m] : moves_) {
    if (m.resend_at_ms <= now_ms) due.push_back(key);
  }
  for (const std::string& key : due) {
    if (!states_.hosts(key)) {
      finish_move(key, true);
      continue;
    }
    const Move& m = moves_.at(key);
    if (!m.reclaim) ++counters_.transfers_resent;
    send_transfer(key, now_ms, /*retarget=*/m.retarget || m.reclaim);
  }
}

std::vector<Ownership::Send> Ownership::take_sends() {
  return std::exchange(sends_, {});
}
std::vector<std::string> Ownership::take_wakes() {
  return std::exchange(wakes_, {});
}

}  // namespace minotaur::sessions
