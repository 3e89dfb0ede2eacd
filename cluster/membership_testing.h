// What the tests of one Membership state machine, driven by hand, share: identities, configs,
// gossip to feed it, and steps that confirm its table, hold a quorum or form a cluster.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "cluster/membership.h"

namespace minotaur::cluster::test_support {

using transport::NodeIdentity;

inline NodeIdentity id(const std::string& name, std::uint64_t inc) {
  return NodeIdentity{name, inc, name + ":7000"};
}

inline MembershipConfig config(const std::string& name, std::vector<std::string> seeds = {}) {
  MembershipConfig c;
  c.self = id(name, 1);
  c.seeds = std::move(seeds);
  return c;
}

inline std::vector<std::string> names(const std::vector<Member>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m.name);
  return out;
}

inline bool has_event(const Step& s, const std::string& name, MemberStatus kind,
                      std::uint64_t inc) {
  for (const auto& e : s.events) {
    if (e.member.name == name && e.kind == kind && e.member.incarnation == inc) return true;
  }
  return false;
}

inline std::vector<std::string> send_targets(const Step& s, bool gossip) {
  std::vector<std::string> out;
  for (const auto& x : s.sends) {
    if (x.message.has_gossip() == gossip) out.push_back(x.to);
  }
  return out;
}

// A gossip listing `ms`; with `voters`, each as admitted at its incarnation.
inline v1::MembershipMessage gossip_of(std::initializer_list<Member> ms, bool voters = false) {
  v1::MembershipMessage m;
  for (const auto& x : ms) {
    auto* s = m.mutable_gossip()->add_members();
    s->set_name(x.name);
    s->set_incarnation(x.incarnation);
    s->set_address(x.address);
    s->set_status(static_cast<v1::MemberStatus>(static_cast<int>(x.status)));
    if (voters) s->set_admitted_incarnation(x.incarnation);
  }
  return m;
}

inline Member member(const std::string& name, std::uint64_t inc, MemberStatus s) {
  return Member{name, inc, name + ":7000", s, false};
}

// A heartbeat from `peer` carrying m's own table hash: the peer's table is m's, so it counts m
// alive (what the quorum lease counts).
inline void confirm(Membership& m, const NodeIdentity& peer, std::int64_t now_ms) {
  v1::MembershipMessage hb;
  hb.mutable_heartbeat()->set_table_hash(m.table_hash());
  (void)m.on_message(peer, hb, now_ms);
}

// Every 100 ms from `from_ms` to `to_ms`: each of `peers` confirms m's table, then m ticks.
inline void hold(Membership& m, const std::vector<NodeIdentity>& peers, std::int64_t from_ms,
                 std::int64_t to_ms) {
  for (std::int64_t t = from_ms; t <= to_ms; t += 100) {
    for (const NodeIdentity& p : peers) confirm(m, p, t);
    (void)m.tick(t);
  }
}

// a (the node under test, first by name: it admits) and `peers` confirm each other for two
// seconds: a cluster just formed, whose members are admitted as voters together.
inline void form(Membership& m, const std::vector<NodeIdentity>& peers) {
  (void)m.start(0);
  for (const auto& p : peers) (void)m.on_peer_connected(p, 0);
  hold(m, peers, 100, 2000);
  ASSERT_EQ(m.voter_count(), peers.size() + 1);
  ASSERT_TRUE(m.has_quorum(2000));
}

// m starts, connects to its seed, and gets the seed's table listing `voters`, admitted.
inline void join_through(Membership& m, const NodeIdentity& seed,
                         std::initializer_list<Member> voters) {
  (void)m.start(0);
  (void)m.on_peer_connected(seed, 10);
  (void)m.on_message(seed, gossip_of(voters, /*voters=*/true), 20);
}

}  // namespace minotaur::cluster::test_support
