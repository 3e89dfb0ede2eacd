// Membership: voters and the quorum lease ("Voters" in membership.h): who counts, whether this
// node holds the quorum, the admission of full members, and an operator's removals.
#include <fmt/format.h>

#include <algorithm>

#include "base/assert.h"
#include "cluster/membership.h"

namespace minotaur::cluster {

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

}  // namespace minotaur::cluster
