#include "sessions/ownership.h"

#include <fmt/format.h>
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

// ---- the replicated store --------------------------------------------------------------------

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

bool Ownership::pick_up(const std::string& key, bool only_if_holder_gone) {
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
  const std::uint64_t epoch = s->epoch + (s->moving_to.empty() ? 1 : 2);
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

// ---- hand-off --------------------------------------------------------------------------------

void Ownership::on_membership_changed(std::vector<std::string> serving,
                                      std::vector<MemberState> members, const std::string& down,
                                      std::int64_t now_ms) {
  if (fenced_) return;
  // A member came, left or died: start nothing from the store before it has heard from every
  // peer again (a member that died a moment ago may have written to one of them last).
  look_again();
  members_.clear();
  for (MemberState& m : members) {
    std::string name = m.name;
    members_.emplace(std::move(name), std::move(m));
  }
  if (draining_)
    serving.erase(std::remove(serving.begin(), serving.end(), options_.self), serving.end());
  if (serving != serving_) {
    previous_serving_ = std::exchange(serving_, std::move(serving));
    last_change_ms_ = now_ms;
  }
  if (!down.empty()) {
    // Transfers to the member that died: nobody will acknowledge them. Whatever it accepted
    // before it died is in the store; its new owner starts from the newer of the two.
    std::vector<std::string> retarget;
    for (const auto& [key, m] : moves_) {
      if (m.to == down) retarget.push_back(key);
    }
    for (const std::string& key : retarget) send_transfer(key, now_ms, /*retarget=*/true);
  }
  rebalance(now_ms);
  if (!down.empty()) pick_up_orphans();
  for (const std::string& key : states_.keys()) wake(key);
}

void Ownership::drain(std::int64_t now_ms) {
  draining_ = true;
  previous_serving_ = serving_;
  serving_.erase(std::remove(serving_.begin(), serving_.end(), options_.self), serving_.end());
  last_change_ms_ = now_ms;
  rebalance(now_ms);
}

void Ownership::rebalance(std::int64_t now_ms) {
  rebalance_pending_ = false;
  for (const std::string& key : states_.keys()) {
    if (moves_.size() >= options_.max_moves_in_flight) {
      rebalance_pending_ = true;  // the rest as earlier hand-offs finish (tick)
      return;
    }
    if (!moving(key)) start_move(key, now_ms);
  }
}

void Ownership::start_move(const std::string& key, std::int64_t now_ms) {
  const std::string o = owner(key);
  if (o.empty() || o == options_.self) return;
  states_.set_frozen(key, true);
  moves_[key] = Move{};
  send_transfer(key, now_ms, /*retarget=*/true);
}

// A transfer goes to the owner of the moment and, until it is acknowledged, is re-sent to that
// same node — never to another one while the first may have started the session (it would then
// pass it on itself, being no owner); only when that node goes down is a new target chosen.
void Ownership::send_transfer(const std::string& key, std::int64_t now_ms, bool retarget) {
  Move& m = moves_.at(key);
  m.retarget = false;
  if (retarget || m.to.empty()) {
    const std::string o = owner(key);
    // The target died: it may have started the session and accepted changes before it died,
    // its acknowledgement lost. This frozen copy may then be older than what it stashed.
    const bool target_died = !m.to_id.empty() && holder_gone(m.to_id);
    if (o.empty() || o == options_.self) {
      if (!target_died) {
        finish_move(key, false);  // nobody to take it (or it is ours again): keep serving it
        return;
      }
      // Ours again, but only through the store: once it caught up, it holds the newer of the
      // two (the store names the dead target, so the session is orphaned and picked up here).
      moves_.erase(key);
      forget(key);
      (void)pick_up(key, /*only_if_holder_gone=*/true);
      wake(key);
      return;
    }
    const bool first = m.to.empty();
    m.to = o;
    // Named in the store as the session's next node: if it dies before it stashes its own
    // state, the session is picked up from this frozen copy even while this node lives. Only
    // for the first target: a later one is chosen when an earlier one died, which may have
    // started the session and stashed newer states (its acknowledgement lost) — this older
    // copy must not overwrite them. The store then names a dead target, so the new owner may
    // start the session from the store; this copy, sent after, is refused as older. Not without
    // the quorum: this node may be the stale side of a cut, whose copy the majority replaced at
    // a higher epoch that its store has not seen — its write would be concurrent with the
    // newer one there, and could win it (last writer wins: seed 906, 5 nodes).
    const auto target = members_.find(o);
    m.to_id = target == members_.end() ? std::string()
                                       : fmt::format("{}#{}", o, target->second.incarnation);
    if (first && quorum_ && store_ != nullptr && !fenced_ && !m.to_id.empty() && !superseded(key)) {
      const auto [state, is_game] = states_.export_state(key);
      store_->stash(
          key, handoff::encode_stashed(states_.epoch(key), is_game, self_id(), state, m.to_id));
    }
  }
  const auto [state, is_game] = states_.export_state(key);
  m.epoch = states_.epoch(key);
  m.resend_at_ms = now_ms + options_.ack_timeout_ms;
  Send s;
  s.to = m.to;
  v1::Transfer* t = s.envelope.mutable_transfer();
  t->set_key(key);
  t->set_epoch(m.epoch);
  t->set_is_game(is_game);
  t->set_state(state);
  sends_.push_back(std::move(s));
  if (options_.unsafe_skip_ack) {
    forget(key);
    ++counters_.handoffs_sent;
    finish_move(key, true);
  }
}

void Ownership::finish_move(const std::string& key, bool moved) {
  moves_.erase(key);
  if (!moved) {
    states_.set_frozen(key, false);
    // Ours again: the store should no longer name a target — unless the target took it and
    // stashed newer states before it died (its acknowledgement lost): then this copy is stale,
    // the next call drops it (superseded), and it must not overwrite them. Nor without the
    // quorum (see send_transfer); the next accepted change stashes it.
    if (quorum_ && !superseded(key)) changed(key);
  }
  wake(key);
}

bool Ownership::on_ack(const std::string& from, const v1::TransferAck& ack, std::int64_t now_ms) {
  auto it = moves_.find(ack.key());
  if (it == moves_.end() || it->second.to != from) return false;  // stale or duplicate
  const Move m = it->second;
  if (ack.epoch() > m.epoch) {
    spdlog::debug("session {}: handed to {} (epoch {} -> {})", ack.key(), from, m.epoch,
                  ack.epoch());
    forget(ack.key());
    ++counters_.handoffs_sent;
    finish_move(ack.key(), true);
    return true;
  }
  if (ack.epoch() != 0) return false;  // it acknowledges an earlier transfer of ours: stale
  if (ack.ready()) {
    // It refused it for now a moment ago and is ready now: send it again at once, unless it
    // is on its way again already.
    if (it->second.retarget) {
      ++counters_.transfers_resent;
      send_transfer(ack.key(), now_ms, /*retarget=*/true);
    }
    return false;
  }
  if (ack.retry()) {
    // It did not start the session: sending it to another node is safe.
    moves_.at(ack.key()).resend_at_ms = now_ms + options_.retry_ms;
    moves_.at(ack.key()).retarget = true;
    return false;
  }
  spdlog::error("session {}: {} refused its state; keeping it here", ack.key(), from);
  finish_move(ack.key(), false);
  return false;
}

void Ownership::on_transfer(const std::string& from, std::uint64_t from_incarnation,
                            const v1::Transfer& t, std::int64_t now_ms) {
  if (fenced_) return;
  if (from_incarnation != 0 && holder_gone(fmt::format("{}#{}", from, from_incarnation))) {
    spdlog::warn("session {}: ignored a transfer from {}#{}, which the cluster declared down",
                 t.key(), from, from_incarnation);
    return;
  }
  Send reply;
  reply.to = from;
  v1::TransferAck* ack = reply.envelope.mutable_transfer_ack();
  ack->set_key(t.key());
  const std::uint64_t have = states_.epoch(t.key());
  if (have > t.epoch()) {
    ack->set_epoch(have);  // a duplicate of a transfer we took already: keep ours
    sends_.push_back(std::move(reply));
    return;
  }
  if (draining_ || !quorum_ || !store_fresh()) {
    // Not draining: told when ready (tick), so that the sender need not wait out retry_ms.
    if (!draining_) ready_wanted_[t.key()] = from;
    // Not now: the sender has not yet learned that this node leaves (a node that took sessions
    // while draining could exit with them), or this node's store may be older than a peer's
    // (it just joined, or a member just died that may have stashed a newer state than the
    // sender's: the store would tell), or this node is cut off with the sender from most of
    // the cluster, which may have started the session again meanwhile (the sender's copy is
    // then stale). The sender keeps it frozen and tries again.
    ack->set_epoch(0);
    ack->set_retry(true);
    sends_.push_back(std::move(reply));
    return;
  }
  if (have != 0) {
    if (moving(t.key())) moves_.erase(t.key());
    forget(t.key());  // an older copy of ours
  }
  // The store may know a newer state than the sender's (a node that had the session after it
  // died): start from the newer of the two.
  const auto stored = store_ != nullptr ? store_->stashed_epoch(t.key()) : std::nullopt;
  if (stored && *stored > t.epoch()) {
    // The sender's copy is stale: a newer owner stashed a later epoch. If that owner is alive it
    // still serves the session: tell the sender to drop its copy (an ack with the newer epoch)
    // and start nothing here. If it is gone, start the session from the store.
    if (holder_alive(t.key())) {
      ack->set_epoch(*stored);
    } else if (pick_up(t.key(), /*only_if_holder_gone=*/true)) {
      ack->set_epoch(states_.epoch(t.key()));
    } else {
      ack->set_epoch(0);
      ack->set_retry(true);  // the store is catching up, or this node has no quorum yet
    }
    sends_.push_back(std::move(reply));
    wake(t.key());
    if (states_.hosts(t.key())) start_move(t.key(), now_ms);
    return;
  }
  if (auto ok = states_.install(t.key(), t.state(), t.is_game(), t.epoch() + 1); !ok) {
    spdlog::error("session {}: refused the state {} handed over: {}", t.key(), from, ok.error());
    ack->set_epoch(0);
  } else {
    ++counters_.handoffs_received;
    ack->set_epoch(t.epoch() + 1);
    changed(t.key());
  }
  sends_.push_back(std::move(reply));
  wake(t.key());
  // Placement may have moved on while the state travelled: pass it on.
  if (states_.hosts(t.key())) start_move(t.key(), now_ms);
}

void Ownership::on_send_failed(const Send& send, std::int64_t now_ms) {
  if (!send.envelope.has_transfer()) return;  // an ack: the sender re-sends its transfer
  auto it = moves_.find(send.envelope.transfer().key());
  if (it != moves_.end()) it->second.resend_at_ms = now_ms + options_.resend_ms;
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
    ++counters_.transfers_resent;
    send_transfer(key, now_ms, /*retarget=*/moves_.at(key).retarget);
  }
}

std::vector<Ownership::Send> Ownership::take_sends() {
  return std::exchange(sends_, {});
}
std::vector<std::string> Ownership::take_wakes() {
  return std::exchange(wakes_, {});
}

}  // namespace minotaur::sessions
