#include "sessions/node_core.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/assert.h"
#include "cluster/membership.h"

namespace minotaur::sessions {

MembershipView view_of(const cluster::Membership& membership) {
  MembershipView view;
  if (membership.joined()) {
    for (const cluster::Member& m : membership.serving_members()) view.serving.push_back(m.name);
  }
  for (const cluster::Member& m : membership.members()) {
    view.members.push_back({m.name, m.incarnation, m.status != cluster::MemberStatus::kDown});
  }
  return view;
}

NodeCore::NodeCore(OwnershipOptions options, SessionStates& states, handoff::StoreCore* store)
    : states_(states),
      store_(store),
      core_(
          [&] {
            options.sync = options.sync && store != nullptr;
            options.confirm_handoffs = store != nullptr && store->has_disk();
            return options;
          }(),
          states, store),
      sync_(options.sync && store != nullptr) {}

void NodeCore::apply(Lease lease) {
  core_.set_quorum(lease.quorum);
  core_.set_in_touch(lease.in_touch);
}

NodeCore::MemberOutcome NodeCore::on_member_event(const cluster::MemberEvent& e,
                                                  const MembershipView& view, Lease lease,
                                                  std::int64_t now_ms) {
  if (fenced_) return MemberOutcome::kFenced;
  if (e.member.self && e.kind == cluster::MemberStatus::kDown) {
    fence();
    return MemberOutcome::kFenced;
  }
  if (!e.member.self && store_ != nullptr) {
    if (e.kind == cluster::MemberStatus::kUp) {
      store_->add_peer(e.member.name, e.member.incarnation);
    } else if (e.kind == cluster::MemberStatus::kDown) {
      store_->remove_peer(e.member.name, e.member.incarnation, /*gone=*/true);
    }
  }
  // Every change of the serving members, this node's own included (its own "up" at start).
  const std::string down =
      e.kind == cluster::MemberStatus::kDown && !e.member.self ? e.member.name : "";
  apply(lease);
  core_.on_membership_changed(view.serving, view.members, down, now_ms);
  start_confirms();
  core_.check_all_invariants();
  return MemberOutcome::kGoOn;
}

CallStep NodeCore::step(const CallState& call, std::size_t waiting_here, Lease lease,
                        std::int64_t now_ms) {
  CallStep s;
  if (call.key.empty()) {
    s.kind = CallStep::Kind::kAnswer;
    s.error = SessionError{ErrorCode::kBadRequest, "the request names no valid game or lobby"};
    return s;
  }
  if (waiting_here >= kMaxWaitingCalls) {
    s.kind = CallStep::Kind::kAnswer;
    s.error = SessionError(ErrorCode::kSessionBusy);
    return s;
  }
  apply(lease);
  const Decision d = core_.decide(call.key, call.kind, now_ms);
  start_confirms();  // a pick-up may want its new epoch confirmed
  core_.check_invariants(call.key);
  switch (d.kind) {
    case Decision::Kind::kRefuse:
      s.kind = CallStep::Kind::kAnswer;
      s.error = d.error;
      return s;
    case Decision::Kind::kServe:
      if (call.kind != CallKind::kRead && store_ != nullptr && !store_->storage_ok()) {
        // The data dir's last batch failed, or the database is too far behind: a change
        // accepted now might not be kept.
        s.kind = CallStep::Kind::kAnswer;
        s.error = storage_unavailable();
        return s;
      }
      s.kind = CallStep::Kind::kServe;
      return s;
    case Decision::Kind::kWait:
      if (now_ms >= call.deadline_ms) {
        s.kind = CallStep::Kind::kAnswer;
        if (d.error) {
          s.error = d.error;
        } else if (core_.serving().empty()) {
          s.error = SessionError(ErrorCode::kNoServingNode);
        } else {
          s.error = SessionError(ErrorCode::kSessionMoving);
        }
        return s;
      }
      s.kind = CallStep::Kind::kWait;
      s.until_ms = std::min(call.deadline_ms, d.until_ms);
      return s;
    case Decision::Kind::kForward:
      if (call.hops >= kMaxForwardHops) {
        s.kind = CallStep::Kind::kAnswer;
        s.error = SessionError(ErrorCode::kPlacementUnsettled);
        return s;
      }
      s.kind = CallStep::Kind::kForward;
      s.owner = d.owner;
      return s;
  }
  ::minotaur::assert_fail("a decision of an unknown kind", __FILE__, __LINE__);
}

CallStep NodeCore::forward_failed(const CallState& call, const std::string& owner,
                                  std::int64_t now_ms) {
  CallStep s;
  if (now_ms >= call.deadline_ms) {
    s.kind = CallStep::Kind::kAnswer;
    s.error = SessionError{ErrorCode::kOwnerUnreachable,
                           fmt::format("the node that hosts this session ({}) did not answer; "
                                       "retry in a moment",
                                       owner)};
    return s;
  }
  s.kind = CallStep::Kind::kWait;
  s.until_ms = std::min(call.deadline_ms, now_ms + kForwardRetryMs);
  return s;
}

bool NodeCore::write_waits_for_peers(CallKind kind) const {
  return sync_ && kind != CallKind::kRead;
}

SessionError NodeCore::not_replicated() {
  return SessionError(ErrorCode::kNotReplicated);
}

SessionError NodeCore::storage_unavailable() {
  return SessionError(ErrorCode::kStorageUnavailable);
}

void NodeCore::changed(const std::string& key) {
  core_.changed(key);
  core_.check_invariants(key);
}

void NodeCore::created(const std::string& key) {
  core_.created(key);
  start_confirms();
  core_.check_invariants(key);
}

void NodeCore::drop(const std::string& key) {
  core_.drop(key);
  core_.check_invariants(key);
}

std::size_t NodeCore::reset() {
  const std::size_t dropped = core_.reset();
  core_.check_all_invariants();
  return dropped;
}

void NodeCore::on_transfer(const std::string& from, std::uint64_t from_incarnation,
                           const v1::Transfer& transfer, Lease lease, std::int64_t now_ms) {
  apply(lease);
  core_.on_transfer(from, from_incarnation, transfer, now_ms);
  start_confirms();
  core_.check_invariants(transfer.key());
}

bool NodeCore::on_ack(const std::string& from, const v1::TransferAck& ack, Lease lease,
                      std::int64_t now_ms) {
  apply(lease);
  const bool moved = core_.on_ack(from, ack, now_ms);
  start_confirms();
  core_.check_invariants(ack.key());
  return moved;
}

void NodeCore::on_send_failed(const Ownership::Send& send, std::int64_t now_ms) {
  core_.on_send_failed(send, now_ms);
  core_.check_invariants(send.envelope.has_transfer() ? send.envelope.transfer().key()
                                                      : send.envelope.transfer_ack().key());
}

void NodeCore::tick(Lease lease, std::int64_t now_ms) {
  apply(lease);
  core_.tick(now_ms);
  start_confirms();
  if (core_.store_caught_up()) caught_up_once_ = true;
  core_.check_all_invariants();
}

// Sessions picked up from the store: a flush tells when every peer (at least one) holds their
// new epoch; until then the ownership core holds their changes.
void NodeCore::start_confirms() {
  std::vector<std::string> keys = core_.take_confirms();
  if (keys.empty()) return;
  if (store_ == nullptr) {
    core_.on_confirmed(keys, true);
    return;
  }
  auto id = store_->flush(kSyncTimeoutMs);
  if (!id) {
    core_.on_confirmed(keys, false);  // too many flushes wait: asked again at the next tick
    return;
  }
  confirming_[id.value()] = std::move(keys);
}

bool NodeCore::on_flushed(const crdt::FlushDone& done) {
  auto it = confirming_.find(done.id);
  if (it == confirming_.end()) return false;
  const std::vector<std::string> keys = std::move(it->second);
  confirming_.erase(it);
  if (!fenced_) core_.on_confirmed(keys, done.acked);
  for (const std::string& key : keys) core_.check_invariants(key);
  return true;
}

void NodeCore::drain(std::int64_t now_ms) {
  drain_started_ms_ = now_ms;
  core_.drain(now_ms);
  core_.check_all_invariants();
}

bool NodeCore::drain_over(std::int64_t now_ms) const {
  MINOTAUR_ASSERT(drain_started_ms_.has_value());
  // Every other node is leaving too (a whole cluster stops): with a data dir or a database, the
  // sessions left here go there before the exit and nobody is there to take them, so waiting
  // would only delay the stop. Without either they are kept here for the bound, in case a node
  // comes back to take them.
  const bool nobody_takes_them = core_.serving().empty() && store_ != nullptr &&
                                 (store_->has_disk() || store_->has_database());
  return states_.keys().empty() || nobody_takes_them ||
         now_ms - *drain_started_ms_ >= kDrainBoundMs;
}

std::string_view to_string(Hold hold) {
  switch (hold) {
    case Hold::kFenced:
      return "fenced";
    case Hold::kDraining:
      return "draining";
    case Hold::kNoQuorum:
      return "no_quorum";
    case Hold::kStorageUnavailable:
      return "storage_unavailable";
    case Hold::kNoReplica:
      return "no_replica";
    case Hold::kCatchingUp:
      return "catching_up";
  }
  MINOTAUR_ASSERT(false);
  return "";
}

std::optional<Hold> NodeCore::changes_held(Lease lease) const {
  if (fenced_) return Hold::kFenced;
  if (core_.draining()) return Hold::kDraining;
  if (!lease.quorum) return Hold::kNoQuorum;
  if (store_ != nullptr && !store_->storage_ok()) return Hold::kStorageUnavailable;
  if (sync_ && store_ != nullptr && store_->peer_count() == 0) return Hold::kNoReplica;
  if (!core_.store_caught_up()) return Hold::kCatchingUp;
  return std::nullopt;
}

std::optional<Hold> NodeCore::not_ready(Lease lease) const {
  const auto held = changes_held(lease);
  if (held == Hold::kNoReplica || (held == Hold::kCatchingUp && caught_up_once_)) {
    return std::nullopt;
  }
  return held;
}

void NodeCore::fence() {
  fenced_ = true;
  core_.fence();
  (void)core_.take_sends();
  core_.check_all_invariants();
}

}  // namespace minotaur::sessions
