// Membership: its life (start, tick, leave), the transport's events and messages, and what it
// tells. The member table (membership_table.cc), the voters and the quorum lease
// (membership_voters.cc) and the wire form (membership_wire.cc) have files of their own.
#include "cluster/membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "base/assert.h"
#include "cluster/membership_wire.h"

namespace minotaur::cluster {

using transport::NodeIdentity;

const char* to_string(MemberStatus s) {
  switch (s) {
    case MemberStatus::kUp:
      return "up";
    case MemberStatus::kLeaving:
      return "leaving";
    case MemberStatus::kDown:
      return "down";
  }
  return "unknown";
}

void Step::append(Step&& other) {
  for (auto& x : other.connect) connect.push_back(std::move(x));
  for (auto& x : other.forget) forget.push_back(std::move(x));
  for (auto& x : other.sends) sends.push_back(std::move(x));
  for (auto& x : other.events) events.push_back(std::move(x));
}

Result<Ok, std::string> MembershipConfig::set_failure_bound(std::uint32_t bound_ms) {
  if (bound_ms < kMinFailureBoundMs || bound_ms > kMaxFailureBoundMs) {
    return err(fmt::format(
        "a failure bound of {} ms is out of range: choose {} to {} ms (1500 by default; a few "
        "hundred on a LAN whose nodes never pause that long)",
        bound_ms, kMinFailureBoundMs, kMaxFailureBoundMs));
  }
  failure_timeout_ms = bound_ms;
  heartbeat_interval_ms = bound_ms * 2 / 15;
  quorum_lease_ms = bound_ms * 2 / 3;
  quorum_regain_ms = bound_ms * 4 / 15;
  MINOTAUR_ASSERT(quorum_lease_ms + heartbeat_interval_ms < failure_timeout_ms);
  return Ok{};
}

bool Membership::fit_peer_failure_bound(std::uint32_t bound_ms) {
  if (bound_ms >= config_.failure_timeout_ms || bound_ms < MembershipConfig::kMinFailureBoundMs ||
      bound_ms > MembershipConfig::kMaxFailureBoundMs) {
    return false;
  }
  MembershipConfig peer;
  const bool ok = peer.set_failure_bound(bound_ms).ok();
  MINOTAUR_ASSERT(ok);
  // Every timing grows with the bound, so the lease alone tells whether they shrink.
  if (peer.quorum_lease_ms >= config_.quorum_lease_ms) return false;  // fitted already
  config_.heartbeat_interval_ms = std::min(config_.heartbeat_interval_ms, peer.heartbeat_interval_ms);
  config_.quorum_lease_ms = std::min(config_.quorum_lease_ms, peer.quorum_lease_ms);
  config_.quorum_regain_ms = std::min(config_.quorum_regain_ms, peer.quorum_regain_ms);
  return true;
}

std::int64_t MembershipConfig::tick_ms() const {
  return std::min<std::int64_t>(Membership::kTickMs, heartbeat_interval_ms / 2);
}

Membership::Membership(MembershipConfig config) : config_(std::move(config)) {
  MINOTAUR_ASSERT(transport::valid_identity(config_.self));
  MINOTAUR_ASSERT(config_.heartbeat_interval_ms > 0);
  MINOTAUR_ASSERT(config_.failure_timeout_ms > config_.heartbeat_interval_ms);
  MINOTAUR_ASSERT(config_.max_members >= 1 && config_.max_members <= kMaxGossipEntries);
  for (const std::string& s : config_.seeds) {
    if (s != config_.self.address) seeds_.push_back(s);
  }
  Entry self;
  self.member = Member{config_.self.name, config_.self.incarnation, config_.self.address,
                       MemberStatus::kUp, true};
  entries_.emplace(config_.self.name, std::move(self));
  joined_ = seeds_.empty();
  check_invariants();
}

Membership::Entry& Membership::self_entry() {
  auto it = entries_.find(config_.self.name);
  MINOTAUR_ASSERT(it != entries_.end());
  return it->second;
}

const Membership::Entry& Membership::self_entry() const {
  auto it = entries_.find(config_.self.name);
  MINOTAUR_ASSERT(it != entries_.end());
  return it->second;
}

bool Membership::leaving() const {
  return self_entry().member.status == MemberStatus::kLeaving;
}

bool Membership::self_down() const {
  return self_entry().member.status == MemberStatus::kDown;
}

void Membership::advance(std::int64_t now_ms) {
  MINOTAUR_ASSERT(now_ms >= now_ms_);  // a monotonic clock
  now_ms_ = now_ms;
  if (started_) track_quorum(now_ms);
}

Step Membership::start(std::int64_t now_ms) {
  MINOTAUR_ASSERT(!started_);
  advance(now_ms);
  started_ = true;
  last_heartbeat_ms_ = now_ms;
  Entry& self = self_entry();
  self.status_since_ms = now_ms;
  Step step;
  step.connect = seeds_;
  step.events.push_back(MemberEvent{MemberStatus::kUp, self.member, now_ms});
  check_invariants();
  return step;
}

Step Membership::on_peer_connected(const NodeIdentity& peer, std::int64_t now_ms) {
  MINOTAUR_ASSERT(started_);
  advance(now_ms);
  Step step;
  if (peer.name == config_.self.name) return step;
  merge(Member{peer.name, peer.incarnation, peer.address, MemberStatus::kUp, false}, Votes{},
        now_ms, step);
  auto it = entries_.find(peer.name);
  if (it != entries_.end() && it->second.member.incarnation == peer.incarnation &&
      it->second.member.status != MemberStatus::kDown) {
    Entry& e = it->second;
    e.connected = true;
    e.last_heard_ms = now_ms;
    joined_ = true;
    send_gossip(e, now_ms, step);
  } else {
    tell_it_is_down(peer, now_ms, step);
  }
  check_invariants();
  return step;
}

// A member this node holds down is talking to it again (a partition healed): tell it, so that it
// exits and restarts as a new incarnation. Whoever holds it down may tell it, quorum or not:
// only a quorum holder declares a member down (or the member left), so a down status is always
// the majority's word, passed on. Requiring the quorum here left a healed minority serving when
// the majority that declared it down had since shrunk by restarts (sim seed 1465, 5 nodes).
void Membership::tell_it_is_down(const NodeIdentity& peer, std::int64_t now_ms, Step& step) {
  auto it = entries_.find(peer.name);
  if (it == entries_.end() || it->second.member.incarnation != peer.incarnation ||
      it->second.member.status != MemberStatus::kDown) {
    return;
  }
  Entry& e = it->second;
  if (e.last_gossip_sent_ms >= 0 &&
      now_ms - e.last_gossip_sent_ms < config_.heartbeat_interval_ms) {
    return;
  }
  send_gossip(e, now_ms, step);
}

Step Membership::on_peer_disconnected(const NodeIdentity& peer, std::int64_t now_ms) {
  MINOTAUR_ASSERT(started_);
  advance(now_ms);
  Step step;
  auto it = entries_.find(peer.name);
  if (it != entries_.end() && !it->second.member.self &&
      it->second.member.incarnation == peer.incarnation) {
    Entry& e = it->second;
    e.connected = false;
    // A member that announced leaving and then closed its connections is gone.
    if (e.member.status == MemberStatus::kLeaving) {
      set_status(e, MemberStatus::kDown, now_ms, step);
    }
  }
  check_invariants();
  return step;
}

Step Membership::on_message(const NodeIdentity& from, const v1::MembershipMessage& message,
                            std::int64_t now_ms) {
  MINOTAUR_ASSERT(started_);
  advance(now_ms);
  Step step;
  if (from.name == config_.self.name) return step;
  // The sender is alive and talking: that is an up member, unless we know better.
  merge(Member{from.name, from.incarnation, from.address, MemberStatus::kUp, false}, Votes{},
        now_ms, step);
  auto it = entries_.find(from.name);
  if (it == entries_.end() || it->second.member.incarnation != from.incarnation ||
      it->second.member.status == MemberStatus::kDown) {
    // A stale or dead incarnation, or no room: ignore what it says — except what it says of this
    // node. Members send to a member they hold down only to tell it so (tell_it_is_down), and
    // a down status is always the word of a quorum holder: then it is right.
    if (message.has_gossip()) {
      for (const auto& m : message.gossip().members()) {
        const auto status = from_wire(m.status());
        if (m.name() == config_.self.name && status) {
          merge_self(Member{m.name(), m.incarnation(), m.address(), *status, false},
                     Votes{m.admitted_incarnation(), m.removed_incarnation()}, now_ms, step);
        }
      }
    }
    tell_it_is_down(from, now_ms, step);
    check_invariants();
    return step;
  }
  it->second.last_heard_ms = now_ms;
  it->second.connected = true;  // messages arrive only on connections
  joined_ = true;
  if (message.has_gossip()) {
    const std::size_t events_before = step.events.size();
    for (const auto& s : message.gossip().members()) {
      const auto status = from_wire(s.status());
      if (!status || !transport::valid_node_name(s.name()) || s.incarnation() == 0 ||
          !transport::valid_address(s.address())) {
        continue;
      }
      merge(Member{s.name(), s.incarnation(), s.address(), *status, false},
            Votes{s.admitted_incarnation(), s.removed_incarnation()}, now_ms, step);
    }
    // News (a join, a leave, a death) is passed on at once to every other connected member, so
    // it spreads in two network delays even to members the source is not yet connected to.
    // Merging is idempotent, so the second round produces no news and the push stops.
    if (step.events.size() > events_before) push_news(from.name, now_ms, step);
    // It lists this incarnation as alive: it counts towards the quorum lease.
    for (const auto& s : message.gossip().members()) {
      if (s.name() == config_.self.name && s.incarnation() == config_.self.incarnation &&
          from_wire(s.status()) != MemberStatus::kDown) {
        if (auto e = entries_.find(from.name); e != entries_.end()) {
          note_confirmed(e->second, now_ms);
        }
      }
    }
  } else if (message.has_heartbeat()) {
    Entry& e = entries_.find(from.name)->second;
    const bool differs = message.heartbeat().table_hash() != table_hash();
    if (!differs) {  // the same table: it has this incarnation alive
      note_confirmed(e, now_ms);
      e.agreed_hash = message.heartbeat().table_hash();
      e.agreed_ms = now_ms;
    }
    const bool rate_ok = e.last_gossip_sent_ms < 0 ||
                         now_ms - e.last_gossip_sent_ms >= config_.heartbeat_interval_ms;
    if (differs && rate_ok) send_gossip(e, now_ms, step);
  }
  check_invariants();
  return step;
}

Step Membership::on_dialed_self(const std::string& address, std::int64_t now_ms) {
  advance(now_ms);
  std::erase(seeds_, address);
  if (seeds_.empty()) joined_ = true;
  Step step;
  step.forget.push_back(address);
  check_invariants();
  return step;
}

Step Membership::leave(std::int64_t now_ms) {
  MINOTAUR_ASSERT(started_);
  advance(now_ms);
  Step step;
  Entry& self = self_entry();
  if (self.member.status != MemberStatus::kUp) return step;
  set_status(self, MemberStatus::kLeaving, now_ms, step);
  for (auto& [name, e] : entries_) {
    if (!e.member.self && e.connected && e.member.status != MemberStatus::kDown) {
      send_gossip(e, now_ms, step);
    }
  }
  check_invariants();
  return step;
}

Step Membership::tick(std::int64_t now_ms) {
  MINOTAUR_ASSERT(started_);
  advance(now_ms);
  Step step;
  const bool self_alive = !self_down();
  bool news = false;
  // Only a node that holds the quorum declares others down: on the minority side of a
  // partition the silent majority is unreachable, not down, and saying otherwise would spread
  // (a node joining there would believe it, and start the majority's sessions from a stale store).
  const bool may_declare = has_quorum(now_ms);
  for (auto& [name, e] : entries_) {
    if (e.member.self || e.member.status == MemberStatus::kDown || !self_alive || !may_declare) {
      continue;
    }
    if (now_ms - e.last_heard_ms > config_.failure_timeout_ms) {
      set_status(e, MemberStatus::kDown, now_ms, step);
      news = true;
    }
  }
  if (news) push_news("", now_ms, step);
  if (self_alive) admit(now_ms, step);
  if (self_alive && now_ms - last_heartbeat_ms_ >= config_.heartbeat_interval_ms) {
    last_heartbeat_ms_ = now_ms;
    v1::MembershipMessage hb;
    hb.mutable_heartbeat()->set_table_hash(table_hash());
    for (auto& [name, e] : entries_) {
      if (!e.member.self && e.connected && e.member.status != MemberStatus::kDown) {
        step.sends.push_back(Send{name, hb});
      }
    }
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    const bool expired = !e.member.self && e.member.status == MemberStatus::kDown &&
                         now_ms - e.status_since_ms > config_.down_retention_ms;
    it = expired ? entries_.erase(it) : std::next(it);
  }
  check_invariants();
  return step;
}

bool Membership::unreachable(std::string_view name, std::int64_t now_ms) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) return false;
  const Entry& e = it->second;
  return !e.member.self && e.member.status != MemberStatus::kDown &&
         now_ms - e.last_heard_ms > config_.failure_timeout_ms;
}

std::vector<Member> Membership::serving_members() const {
  std::vector<Member> out;
  for (const auto& [name, e] : entries_) {
    if (e.member.status == MemberStatus::kUp) out.push_back(e.member);
  }
  return out;
}

std::vector<Member> Membership::members() const {
  std::vector<Member> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(e.member);
  return out;
}

const Member* Membership::find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second.member;
}

void Membership::check_invariants() const {
  const Entry& self = self_entry();
  MINOTAUR_ASSERT(self.member.self);
  MINOTAUR_ASSERT(self.member.incarnation == config_.self.incarnation);
  MINOTAUR_ASSERT(entries_.size() <= config_.max_members);
  for (const auto& [name, e] : entries_) {
    MINOTAUR_ASSERT(name == e.member.name);
    MINOTAUR_ASSERT(e.member.incarnation != 0);
    MINOTAUR_ASSERT(e.member.self == (name == config_.self.name));
    MINOTAUR_ASSERT(e.last_heard_ms <= now_ms_ && e.status_since_ms <= now_ms_);
    // A removed incarnation is down (this node too, once it learned it).
    MINOTAUR_ASSERT(e.removed < e.member.incarnation || e.member.status == MemberStatus::kDown);
  }
}

}  // namespace minotaur::cluster
