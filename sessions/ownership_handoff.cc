// Ownership: the hand-off. Membership changes and the drain move sessions to their new owners:
// a frozen session's Transfer, re-sent until acknowledged, and the receiving side.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sessions/ownership.h"

namespace minotaur::sessions {

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
      // Ours again, but only through the store (reclaim): once it caught up, it holds the
      // newer of the two. Until then the copy stays here, frozen, and this is tried again at
      // every tick — or it goes to another owner, if placement moves on meanwhile.
      if (!m.reclaim) {
        spdlog::info(
            "session {}: {} died while it was handed the session; taking it back once "
            "the store caught up",
            key, m.to_id);
      }
      m.reclaim = true;
      if (!reclaim(key)) m.resend_at_ms = now_ms + options_.retry_ms;
      return;
    }
    m.reclaim = false;
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
  if (m.reclaim) return false;  // from the target that died: the store decides now
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
    if (options_.confirm_handoffs) confirm(t.key());
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

}  // namespace minotaur::sessions
