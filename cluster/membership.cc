#include "cluster/membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "base/assert.h"
#include "base/stable_hash.h"

namespace minotaur::cluster {

namespace {

using transport::NodeIdentity;

std::optional<MemberStatus> from_wire(v1::MemberStatus s) {
  switch (s) {
    case v1::MEMBER_STATUS_UP:
      return MemberStatus::kUp;
    case v1::MEMBER_STATUS_LEAVING:
      return MemberStatus::kLeaving;
    case v1::MEMBER_STATUS_DOWN:
      return MemberStatus::kDown;
    default:
      return std::nullopt;  // unspecified, or written by a newer version: skip the entry
  }
}

v1::MemberStatus to_wire(MemberStatus s) {
  switch (s) {
    case MemberStatus::kUp:
      return v1::MEMBER_STATUS_UP;
    case MemberStatus::kLeaving:
      return v1::MEMBER_STATUS_LEAVING;
    case MemberStatus::kDown:
      return v1::MEMBER_STATUS_DOWN;
  }
  MINOTAUR_ASSERT(false);
  return v1::MEMBER_STATUS_UNSPECIFIED;
}

}  // namespace

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

std::string encode_membership(const v1::MembershipMessage& m) {
  std::string out;
  const bool ok = m.SerializeToString(&out);
  MINOTAUR_ASSERT(ok);
  return out;
}

Result<v1::MembershipMessage, std::string> decode_membership(std::string_view payload) {
  v1::MembershipMessage m;
  if (!m.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return err(std::string("membership message does not decode"));
  }
  if (m.body_case() == v1::MembershipMessage::BODY_NOT_SET) {
    return err(std::string("membership message of an unknown kind (a newer version?)"));
  }
  if (m.has_gossip() && static_cast<std::size_t>(m.gossip().members_size()) > kMaxGossipEntries) {
    return err(std::string("gossip with more than ") + std::to_string(kMaxGossipEntries) +
               " members");
  }
  return m;
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

void Membership::set_status(Entry& e, MemberStatus s, std::int64_t now_ms, Step& step,
                            bool may_forget) {
  MINOTAUR_ASSERT(s > e.member.status);
  e.member.status = s;
  e.status_since_ms = now_ms;
  if (s == MemberStatus::kLeaving) e.left = true;
  step.events.push_back(MemberEvent{s, e.member, now_ms});
  if (s == MemberStatus::kDown && may_forget && !e.member.self &&
      !address_still_needed(e.member.address)) {
    step.forget.push_back(e.member.address);
  }
}

// A node that lost the quorum regains it only after holding it without a break for
// quorum_regain_ms, counting only fresh confirmations (within 1.5 heartbeat intervals): a member
// that joined a moment ago may vouch for this node once before it learns that the cluster
// declared this node down, and then fall silent towards it; one such word must not be enough.
//
// Two counts, both over the voters (counts()): has_quorum counts every voter that is up,
// confirmed or not, so that a node that joins (or restarts) on the minority side of a partition,
// and learns of the majority only from a seed's table, holds no quorum with the seed alone. The
// loss-and-regain tracking counts only voters that confirmed this node at least once: a
// newcomer that has not yet answered makes the quorum wait for one round trip, but does not
// trip the regain delay.
bool Membership::has_quorum(std::int64_t now_ms) const {
  return !quorum_lost_ && quorum_now(now_ms, config_.quorum_lease_ms, Voters::kAll);
}

void Membership::track_quorum(std::int64_t now_ms) {
  if (!joined_) return;
  if (!quorum_lost_) {
    const bool held = quorum_now(now_ms, config_.quorum_lease_ms, Voters::kConfirmed);
    if (held) had_quorum_ = true;
    if (!held && had_quorum_) {
      quorum_lost_ = true;
      quorum_since_ms_ = -1;
    }
    return;
  }
  // Fresh: within one and a half heartbeat intervals, so that quorum_regain_ms (two intervals)
  // spans at least two confirmations from each member counted.
  const std::int64_t fresh_ms = config_.heartbeat_interval_ms * 3 / 2;
  if (!quorum_now(now_ms, fresh_ms, Voters::kConfirmed)) {
    quorum_since_ms_ = -1;
    return;
  }
  if (quorum_since_ms_ < 0) quorum_since_ms_ = now_ms;
  if (now_ms - quorum_since_ms_ >= config_.quorum_regain_ms) quorum_lost_ = false;
}

bool Membership::all_in_touch(std::int64_t now_ms) const {
  for (const auto& [name, e] : entries_) {
    if (e.member.self || e.member.status == MemberStatus::kDown) continue;
    if (e.confirmed_ms < 0 || now_ms - e.confirmed_ms > config_.quorum_lease_ms) return false;
  }
  return true;
}

bool Membership::any_admitted() const {
  for (const auto& [name, e] : entries_) {
    if (e.admitted != 0 && e.admitted > e.removed) return true;
  }
  return false;
}

// A name votes once admitted, until an operator removes an incarnation at or after the admitted
// one. Before the first admission (a cluster forming, or peers of a version before voters) every
// name votes that is not removed: the rule from before voters, so that mixed versions agree.
bool Membership::counts(const Entry& e, bool first_formation) const {
  if (first_formation) return e.removed < e.member.incarnation;
  return e.admitted != 0 && e.admitted > e.removed;
}

bool Membership::votes(std::string_view name) const {
  auto it = entries_.find(name);
  return it != entries_.end() && counts(it->second, !any_admitted());
}

std::size_t Membership::voter_count() const {
  const bool first_formation = !any_admitted();
  std::size_t n = 0;
  for (const auto& [name, e] : entries_) {
    if (counts(e, first_formation)) ++n;
  }
  return n;
}

bool Membership::removed(std::string_view name) const {
  auto it = entries_.find(name);
  return it != entries_.end() && it->second.removed >= it->second.member.incarnation;
}

bool Membership::quorum_now(std::int64_t now_ms, std::int64_t lease_ms, Voters voters_are) const {
  if (self_down()) return false;
  const bool first_formation = !any_admitted();
  std::size_t voters = 0;
  std::size_t heard = 0;
  for (const auto& [name, e] : entries_) {
    // A candidate (it never confirmed a quorum holder for a failure bound) or a removed name:
    // neither for nor against. Counting every name let handshakes under new names stop the
    // cluster for good: no majority was left to declare them down.
    if (!counts(e, first_formation)) continue;
    if (e.member.self) {
      ++voters;
      ++heard;
      continue;
    }
    if (e.member.status != MemberStatus::kDown) {
      // Up but never heard counting us alive: a voter all the same (kAll). Skipping it let a
      // node restarted inside a minority count only the seed it joined through, hold a
      // "quorum" of two, and declare the majority down (found by the simulator, 5 nodes).
      if (!e.ever_confirmed && voters_are == Voters::kConfirmed) continue;
      ++voters;
      if (e.confirmed_ms >= 0 && now_ms - e.confirmed_ms <= lease_ms) ++heard;
    } else if (voters_are == Voters::kAll || (!e.left && e.ever_confirmed)) {
      // Failed, or cut off: it may still be serving on the other side, or be back under a new
      // incarnation this node has not heard of (a node that restarted behind a cut). Without
      // this a node cut off with one other kept a "majority" of three voters in a cluster of
      // five. Left gracefully: a voter all the same until its tombstone goes — it is restarting
      // in a deploy, maybe on the other side of a cut, where it joins a majority this node does
      // not see. Not counting it let two sides of a cut each hold a majority of their own voters
      // (two nodes restarted during a cut that cut two others off).
      ++voters;
    }
  }
  return 2 * heard > voters;
}

void Membership::note_confirmed(Entry& e, std::int64_t now_ms) {
  if (e.confirmed_ms < 0 || now_ms - e.confirmed_ms > config_.quorum_lease_ms) {
    e.confirmed_since_ms = now_ms;
  }
  e.confirmed_ms = now_ms;
  e.ever_confirmed = true;
}

bool Membership::table_agreed(std::int64_t now_ms) const {
  const std::uint64_t mine = table_hash();
  for (const auto& [name, e] : entries_) {
    if (e.member.self || e.member.status == MemberStatus::kDown) continue;
    if (e.agreed_hash != mine || e.agreed_ms < 0 ||
        now_ms - e.agreed_ms > config_.quorum_lease_ms) {
      return false;
    }
  }
  return true;
}

// The admission of full members (see "Voters" in the header). One admitter: the first voter by
// name that is up in this node's table (before the first admission, the first member that is
// up), so that two nodes seldom change the voters at once; one name per tick, and only when
// every member that is not down holds this table, so that a change reached everyone before the
// next. A candidate qualifies once it has confirmed this node for a failure bound without a gap.
void Membership::admit(std::int64_t now_ms, Step& step) {
  Entry& self = self_entry();
  if (!joined_ || self.member.status != MemberStatus::kUp || !has_quorum(now_ms)) return;
  const bool first_formation = !any_admitted();
  for (const auto& [name, e] : entries_) {
    if (e.member.status != MemberStatus::kUp || !counts(e, first_formation)) continue;
    if (!e.member.self) return;  // another voter admits
    break;
  }
  if (!counts(self, first_formation) || !table_agreed(now_ms)) return;
  const auto full_member = [&](const Entry& e) {
    return e.member.status == MemberStatus::kUp && e.removed < e.member.incarnation &&
           e.confirmed_since_ms >= 0 &&
           now_ms - e.confirmed_since_ms >= config_.failure_timeout_ms &&
           now_ms - e.confirmed_ms <= config_.quorum_lease_ms;
  };
  bool changed = false;
  if (first_formation) {
    // Every member that is up at once, this node included, or none: the names counted before
    // (all) and after (those admitted) must be the same, or the two counts could part.
    if (now_ms - self.status_since_ms < config_.failure_timeout_ms) return;
    for (const auto& [name, e] : entries_) {
      if (!e.member.self && e.member.status != MemberStatus::kDown && !full_member(e)) return;
    }
    for (auto& [name, e] : entries_) {
      if (e.member.status == MemberStatus::kUp) {
        e.admitted = std::max(e.admitted, e.member.incarnation);
        changed = true;
      }
    }
  } else {
    for (auto& [name, e] : entries_) {
      if (e.member.self || counts(e, false) || !full_member(e)) continue;
      e.admitted = std::max(e.admitted, e.member.incarnation);
      changed = true;
      break;
    }
  }
  if (changed) push_news("", now_ms, step);
}

Result<Step, Membership::RemoveRefusal> Membership::remove(std::string_view name, bool force,
                                                           std::int64_t now_ms) {
  MINOTAUR_ASSERT(started_);
  advance(now_ms);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return err(RemoveRefusal{RemoveError::kUnknown,
                             fmt::format("no member named '{}' in this node's table; GET "
                                         "/api/v1/cluster lists the members",
                                         name)});
  }
  Entry& e = it->second;
  if (e.member.self) {
    return err(
        RemoveRefusal{RemoveError::kAlive,
                      fmt::format("'{}' is this node; stop it for good first, then remove it "
                                  "through another node",
                                  name)});
  }
  if (e.removed >= e.member.incarnation) return Step{};  // removing twice is removing once
  if (e.member.status != MemberStatus::kDown &&
      now_ms - e.last_heard_ms <= config_.failure_timeout_ms) {
    return err(RemoveRefusal{
        RemoveError::kAlive,
        fmt::format("'{}' is {} and was heard from {} ms ago; only a member that is down can be "
                    "removed: stop it for good first (it is down {} ms after it falls silent)",
                    name, to_string(e.member.status), now_ms - e.last_heard_ms,
                    config_.failure_timeout_ms)});
  }
  if (self_down() || (!force && !has_quorum(now_ms))) {
    return err(RemoveRefusal{
        RemoveError::kNoQuorum,
        fmt::format("this node holds no quorum, so it cannot tell whether '{}' is gone or serves "
                    "on the other side of a cut; remove it through a node that holds the quorum. "
                    "If the majority's machines are gone for good, repeat with force (wrong "
                    "during a cut, it lets two sides accept changes)",
                    name)});
  }
  if (!force && !table_agreed(now_ms)) {
    return err(RemoveRefusal{RemoveError::kBusy,
                             "the last membership change has not reached every member yet; "
                             "retry in a second"});
  }
  Step step;
  e.removed = e.member.incarnation;
  if (e.member.status != MemberStatus::kDown) set_status(e, MemberStatus::kDown, now_ms, step);
  push_news("", now_ms, step);
  check_invariants();
  return step;
}

bool Membership::address_still_needed(const std::string& address) const {
  if (std::find(seeds_.begin(), seeds_.end(), address) != seeds_.end()) return true;
  for (const auto& [name, e] : entries_) {
    if (!e.member.self && e.member.address == address && e.member.status != MemberStatus::kDown) {
      return true;
    }
  }
  return false;
}

bool Membership::evict_one_tombstone() {
  // The oldest tombstone of a name that does not vote, else the oldest of a voter (which shrinks
  // the voters here alone).
  const bool first_formation = !any_admitted();
  auto oldest = entries_.end();
  const auto before = [&](const Entry& a, const Entry& b) {
    const bool a_votes = counts(a, first_formation);
    const bool b_votes = counts(b, first_formation);
    if (a_votes != b_votes) return !a_votes;
    return a.status_since_ms < b.status_since_ms;
  };
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.member.self || it->second.member.status != MemberStatus::kDown) continue;
    if (oldest == entries_.end() || before(it->second, oldest->second)) oldest = it;
  }
  if (oldest == entries_.end()) return false;
  entries_.erase(oldest);
  return true;
}

void Membership::merge_self(const Member& m, Votes votes, std::int64_t now_ms, Step& step) {
  Entry& self = self_entry();
  // What the cluster knows of our name's vote, also from an older incarnation's entry: a
  // restarted node votes at once when its name was admitted, and not when it was removed since.
  self.admitted = std::max(self.admitted, votes.admitted);
  self.removed = std::max(self.removed, votes.removed);
  if (self.member.status == MemberStatus::kDown) return;
  const bool replaced = m.incarnation > self.member.incarnation;
  const bool declared_down =
      m.incarnation == self.member.incarnation && m.status == MemberStatus::kDown;
  const bool removed = self.removed >= self.member.incarnation;
  if (replaced || declared_down || removed) set_status(self, MemberStatus::kDown, now_ms, step);
  // Older incarnations of our name, and "leaving" said by others, change nothing.
}

void Membership::merge(const Member& m, Votes votes, std::int64_t now_ms, Step& step) {
  if (m.name == config_.self.name) {
    merge_self(m, votes, now_ms, step);
    return;
  }
  auto it = entries_.find(m.name);
  if (it == entries_.end()) {
    if (entries_.size() >= config_.max_members && !evict_one_tombstone()) return;  // full
    Entry e;
    // A removed incarnation is down, whatever status the message gives it.
    const MemberStatus status = votes.removed >= m.incarnation ? MemberStatus::kDown : m.status;
    e.member = Member{m.name, m.incarnation, m.address, status, false};
    e.last_heard_ms = now_ms;
    e.status_since_ms = now_ms;
    e.admitted = votes.admitted;
    e.removed = votes.removed;
    auto& inserted = entries_.emplace(m.name, std::move(e)).first->second;
    if (status != MemberStatus::kDown) {
      step.events.push_back(MemberEvent{status, inserted.member, now_ms});
      step.connect.push_back(m.address);
    }
    return;
  }
  Entry& e = it->second;
  // Facts about the name, whichever incarnation the message is about.
  e.admitted = std::max(e.admitted, votes.admitted);
  e.removed = std::max(e.removed, votes.removed);
  if (m.incarnation > e.member.incarnation) {
    // The old process is gone; keep dialing its address when the new one lives there too.
    if (e.member.status != MemberStatus::kDown) {
      set_status(e, MemberStatus::kDown, now_ms, step, e.member.address != m.address);
    }
    const Votes name_votes{e.admitted, e.removed};
    const MemberStatus status =
        name_votes.removed >= m.incarnation ? MemberStatus::kDown : m.status;
    e = Entry{};
    e.member = Member{m.name, m.incarnation, m.address, status, false};
    e.last_heard_ms = now_ms;
    e.status_since_ms = now_ms;
    e.admitted = name_votes.admitted;
    e.removed = name_votes.removed;
    if (status != MemberStatus::kDown) {
      step.events.push_back(MemberEvent{status, e.member, now_ms});
      step.connect.push_back(m.address);
    }
    return;
  }
  // Older incarnations' news is stale; but a removal it carries may reach the current one.
  if (m.incarnation == e.member.incarnation && m.status > e.member.status) {
    set_status(e, m.status, now_ms, step);
  }
  if (e.removed >= e.member.incarnation && e.member.status != MemberStatus::kDown) {
    set_status(e, MemberStatus::kDown, now_ms, step);
  }
}

void Membership::push_news(std::string_view except, std::int64_t now_ms, Step& step) {
  if (self_down()) return;
  for (auto& [name, e] : entries_) {
    if (!e.member.self && name != except && e.connected && e.member.status != MemberStatus::kDown) {
      send_gossip(e, now_ms, step);
    }
  }
}

v1::MembershipMessage Membership::gossip() const {
  v1::MembershipMessage msg;
  auto* g = msg.mutable_gossip();
  for (const auto& [name, e] : entries_) {
    auto* s = g->add_members();
    s->set_name(e.member.name);
    s->set_incarnation(e.member.incarnation);
    s->set_status(to_wire(e.member.status));
    s->set_address(e.member.address);
    s->set_admitted_incarnation(e.admitted);
    s->set_removed_incarnation(e.removed);
  }
  return msg;
}

void Membership::send_gossip(Entry& e, std::int64_t now_ms, Step& step) {
  e.last_gossip_sent_ms = now_ms;
  step.sends.push_back(Send{e.member.name, gossip()});
}

std::uint64_t Membership::table_hash() const {
  Fnv1a h;                                  // base/stable_hash.h: the same in every version
  for (const auto& [name, e] : entries_) {  // sorted by name: the same order everywhere
    h.add(name);
    h.add_u64(e.member.incarnation);
    h.add_u64(static_cast<std::uint64_t>(e.member.status));
    // Only when set: a table without votes hashes as before voters existed, so that nodes of
    // that version and this one agree on it (and on the first admission, see admit()).
    if (e.admitted != 0) h.add_u64(e.admitted);
    if (e.removed != 0) {
      h.add("removed");
      h.add_u64(e.removed);
    }
  }
  return h.value();
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
