// Membership: the member table, a join ("Model" in membership.h): merging a member's state,
// status changes, tombstones, and the gossip that carries the table and its hash.
#include <algorithm>

#include "base/assert.h"
#include "base/stable_hash.h"
#include "cluster/membership.h"
#include "cluster/membership_wire.h"

namespace minotaur::cluster {

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

}  // namespace minotaur::cluster
