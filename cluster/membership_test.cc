// One Membership state machine, driven step by step by hand: discovery, gossip, heartbeats,
// failure detection, leaving, incarnations, the bounded table, the codec. Voters and the
// quorum lease: membership_voters_test.cc.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/membership_testing.h"

namespace minotaur::cluster {
namespace {

using namespace test_support;

TEST(Membership, StartIsUpAndDialsTheSeedsButNotItself) {
  Membership m(config("a", {"b:7000", "a:7000", "c:7000"}));
  Step s = m.start(0);
  EXPECT_EQ(s.connect, (std::vector<std::string>{"b:7000", "c:7000"}));
  EXPECT_TRUE(has_event(s, "a", MemberStatus::kUp, 1));
  EXPECT_FALSE(m.joined());
  EXPECT_EQ(names(m.serving_members()), (std::vector<std::string>{"a"}));
}

TEST(Membership, WithoutSeedsItIsJoinedAlone) {
  Membership m(config("a"));
  (void)m.start(0);
  EXPECT_TRUE(m.joined());
}

TEST(Membership, ASeedThatIsThisNodeIsDropped) {
  Membership m(config("a", {"10.0.0.1:7000"}));
  (void)m.start(0);
  EXPECT_FALSE(m.joined());
  Step s = m.on_dialed_self("10.0.0.1:7000", 5);
  EXPECT_EQ(s.forget, (std::vector<std::string>{"10.0.0.1:7000"}));
  EXPECT_TRUE(m.joined());
}

TEST(Membership, ConnectedPeerIsUpAndGetsOurTable) {
  Membership m(config("a", {"b:7000"}));
  (void)m.start(0);
  Step s = m.on_peer_connected(id("b", 5), 10);
  EXPECT_TRUE(has_event(s, "b", MemberStatus::kUp, 5));
  EXPECT_EQ(send_targets(s, true), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(m.joined());
  EXPECT_EQ(names(m.serving_members()), (std::vector<std::string>{"a", "b"}));
}

TEST(Membership, GossipTeachesMembersAndAsksToDialThem) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 10);
  Step s =
      m.on_message(id("b", 5),
                   gossip_of({member("b", 5, MemberStatus::kUp), member("c", 7, MemberStatus::kUp),
                              member("d", 9, MemberStatus::kDown)}),
                   20);
  EXPECT_TRUE(has_event(s, "c", MemberStatus::kUp, 7));
  EXPECT_FALSE(has_event(s, "d", MemberStatus::kUp, 9));  // a tombstone is no news
  EXPECT_EQ(s.connect, (std::vector<std::string>{"c:7000"}));
  EXPECT_EQ(names(m.serving_members()), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_NE(m.find("d"), nullptr);
  EXPECT_EQ(m.find("d")->status, MemberStatus::kDown);
}

TEST(Membership, HeartbeatsGoToConnectedMembersEveryInterval) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_message(id("b", 5), gossip_of({member("c", 7, MemberStatus::kUp)}),
                     0);  // not connected
  EXPECT_TRUE(m.tick(100).sends.empty());
  Step s = m.tick(200);
  EXPECT_EQ(send_targets(s, false), (std::vector<std::string>{"b"}));
  EXPECT_EQ(s.sends.at(0).message.heartbeat().table_hash(), m.table_hash());
  EXPECT_TRUE(m.tick(300).sends.empty());
}

TEST(Membership, DifferingHashIsAnsweredWithGossipAtMostOncePerInterval) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);  // sends gossip at 0
  v1::MembershipMessage hb;
  hb.mutable_heartbeat()->set_table_hash(12345);
  EXPECT_TRUE(m.on_message(id("b", 5), hb, 100).sends.empty());  // rate limit
  EXPECT_EQ(send_targets(m.on_message(id("b", 5), hb, 200), true), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(m.on_message(id("b", 5), hb, 250).sends.empty());
  hb.mutable_heartbeat()->set_table_hash(m.table_hash());
  EXPECT_TRUE(m.on_message(id("b", 5), hb, 1000).sends.empty());  // same table: quiet
}

TEST(Membership, SilentMemberIsDownAfterTheBoundAndNotBefore) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_peer_connected(id("c", 6), 0);
  v1::MembershipMessage hb;
  hb.mutable_heartbeat()->set_table_hash(m.table_hash());
  for (std::int64_t t = 200; t <= 2400; t += 200) {
    if (t == 1000) (void)m.on_message(id("b", 5), hb, 1000);  // b's last word
    confirm(m, id("c", 6), t);                                // a and c: quorum
  }
  EXPECT_TRUE(m.tick(2500).events.empty());  // exactly the bound: still up
  Step s = m.tick(2501);
  EXPECT_TRUE(has_event(s, "b", MemberStatus::kDown, 5));
  EXPECT_EQ(s.forget, (std::vector<std::string>{"b:7000"}));
  EXPECT_EQ(names(m.serving_members()), (std::vector<std::string>{"a", "c"}));
  // Down is final for that incarnation: it cannot come back up.
  Step again = m.on_message(id("b", 5), hb, 2600);
  EXPECT_TRUE(again.events.empty());
  EXPECT_EQ(m.find("b")->status, MemberStatus::kDown);
  for (const Send& send : m.tick(3000).sends) EXPECT_NE(send.to, "b");  // nothing to b
}

// Without the quorum nobody is declared down, but a member silent for more than the bound is
// unreachable (what the cluster view shows), and reachable again when it speaks.
TEST(Membership, ASilentMemberIsUnreachableWithoutTheQuorumToDeclareItDown) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_peer_connected(id("c", 6), 0);
  v1::MembershipMessage hb;
  hb.mutable_heartbeat()->set_table_hash(m.table_hash());
  (void)m.on_message(id("b", 5), hb, 1000);  // b's and c's last words: a is alone after them
  (void)m.on_message(id("c", 6), hb, 1000);
  EXPECT_FALSE(m.unreachable("b", 2500));  // exactly the bound
  (void)m.tick(2501);
  EXPECT_TRUE(m.unreachable("b", 2501));
  EXPECT_TRUE(m.unreachable("c", 2501));
  EXPECT_FALSE(m.has_quorum(2501));
  (void)m.tick(9000);
  EXPECT_EQ(m.find("b")->status, MemberStatus::kUp) << "declared down without the quorum";
  EXPECT_TRUE(m.unreachable("b", 9000));
  (void)m.on_message(id("b", 5), hb, 9100);
  EXPECT_FALSE(m.unreachable("b", 9100));
  EXPECT_FALSE(m.unreachable("a", 9100)) << "this node itself";
  EXPECT_FALSE(m.unreachable("nobody", 9100));
}

// The timings follow the failure bound in the default's proportions, and the lease always
// ends before a peer with the same bound could declare this node down.
TEST(Membership, TheFailureBoundSetsHeartbeatAndLease) {
  MembershipConfig c;
  ASSERT_TRUE(c.set_failure_bound(1500).ok());
  EXPECT_EQ(c.heartbeat_interval_ms, MembershipConfig{}.heartbeat_interval_ms);
  EXPECT_EQ(c.quorum_lease_ms, MembershipConfig{}.quorum_lease_ms);
  EXPECT_EQ(c.quorum_regain_ms, MembershipConfig{}.quorum_regain_ms);
  for (std::uint32_t bound = MembershipConfig::kMinFailureBoundMs;
       bound <= MembershipConfig::kMaxFailureBoundMs; bound += 97) {
    ASSERT_TRUE(c.set_failure_bound(bound).ok()) << bound;
    EXPECT_LT(c.quorum_lease_ms + c.heartbeat_interval_ms, c.failure_timeout_ms) << bound;
    EXPECT_LE(c.tick_ms(), c.heartbeat_interval_ms / 2) << bound;
  }
  const auto low = c.set_failure_bound(MembershipConfig::kMinFailureBoundMs - 1);
  ASSERT_FALSE(low.ok());
  EXPECT_NE(low.error().find("choose 300 to 60000 ms"), std::string::npos) << low.error();
  EXPECT_FALSE(c.set_failure_bound(MembershipConfig::kMaxFailureBoundMs + 1).ok());
}

// A peer with a shorter bound makes this node's lease and heartbeat fit it, once, and never
// grow back; nonsense from a peer changes nothing.
TEST(Membership, APeersShorterFailureBoundShortensThisNodesLease) {
  Membership m(config("a"));  // the default bound, 1500 ms
  EXPECT_FALSE(m.fit_peer_failure_bound(1500));
  EXPECT_FALSE(m.fit_peer_failure_bound(3000));
  EXPECT_FALSE(m.fit_peer_failure_bound(0)) << "a build that does not tell its bound";
  EXPECT_FALSE(m.fit_peer_failure_bound(5));
  EXPECT_EQ(m.config().quorum_lease_ms, 1000u);
  ASSERT_TRUE(m.fit_peer_failure_bound(600));
  EXPECT_EQ(m.config().quorum_lease_ms, 400u);
  EXPECT_EQ(m.config().heartbeat_interval_ms, 80u);
  EXPECT_EQ(m.config().failure_timeout_ms, 1500u) << "its own bound stays";
  EXPECT_LT(m.config().quorum_lease_ms + m.config().heartbeat_interval_ms, 600u);
  EXPECT_FALSE(m.fit_peer_failure_bound(600));
  EXPECT_FALSE(m.fit_peer_failure_bound(900));
  EXPECT_EQ(m.config().quorum_lease_ms, 400u);
}

TEST(Membership, LeaveTellsEveryConnectedMemberAtOnce) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_peer_connected(id("c", 6), 0);
  Step s = m.leave(50);
  EXPECT_TRUE(has_event(s, "a", MemberStatus::kLeaving, 1));
  EXPECT_EQ(send_targets(s, true), (std::vector<std::string>{"b", "c"}));
  EXPECT_TRUE(m.leaving());
  EXPECT_EQ(names(m.serving_members()), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(send_targets(m.tick(200), false).size(), 2u);  // heartbeats go on while leaving
}

TEST(Membership, LeavingMemberIsOutAtOnceAndDownWhenItDisconnects) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  Step s = m.on_message(id("b", 5), gossip_of({member("b", 5, MemberStatus::kLeaving)}), 10);
  EXPECT_TRUE(has_event(s, "b", MemberStatus::kLeaving, 5));
  EXPECT_EQ(names(m.serving_members()), (std::vector<std::string>{"a"}));
  Step d = m.on_peer_disconnected(id("b", 5), 20);
  EXPECT_TRUE(has_event(d, "b", MemberStatus::kDown, 5));
}

TEST(Membership, DisconnectOfAnUpMemberWaitsForTheBound) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  EXPECT_TRUE(m.on_peer_disconnected(id("b", 5), 10).events.empty());
  EXPECT_EQ(m.find("b")->status, MemberStatus::kUp);
  EXPECT_TRUE(m.tick(200).sends.empty());  // no connection: no heartbeat
}

TEST(Membership, NewIncarnationReplacesTheOldOne) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_peer_disconnected(id("b", 5), 10);
  Step s = m.on_peer_connected(id("b", 9), 20);
  ASSERT_EQ(s.events.size(), 2u);
  EXPECT_TRUE(has_event(s, "b", MemberStatus::kDown, 5));
  EXPECT_TRUE(has_event(s, "b", MemberStatus::kUp, 9));
  EXPECT_EQ(s.events[0].kind, MemberStatus::kDown);  // the old one first
  EXPECT_TRUE(s.forget.empty());                     // same address: keep dialing it
  EXPECT_EQ(m.find("b")->incarnation, 9u);
  // News about the old incarnation changes nothing now.
  Step stale = m.on_message(id("c", 3), gossip_of({member("b", 5, MemberStatus::kUp)}), 30);
  EXPECT_FALSE(has_event(stale, "b", MemberStatus::kUp, 5));
  EXPECT_EQ(m.find("b")->incarnation, 9u);
  Step stale_sender = m.on_message(id("b", 5), gossip_of({member("z", 1, MemberStatus::kUp)}), 40);
  EXPECT_TRUE(stale_sender.events.empty());  // an old process is not listened to
  EXPECT_EQ(m.find("z"), nullptr);
}

TEST(Membership, TheClusterDeclaringThisNodeDownIsTold) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  Step s = m.on_message(id("b", 5), gossip_of({member("a", 1, MemberStatus::kDown)}), 10);
  EXPECT_TRUE(has_event(s, "a", MemberStatus::kDown, 1));
  EXPECT_TRUE(m.self_down());
  EXPECT_TRUE(m.tick(1000).sends.empty());  // a down node stops heartbeating
}

// A member declared down by a quorum holder that talks again is told so — also by a node that
// has since lost the quorum itself (its majority shrank by restarts): the down status is the
// majority's word all the same (found by the simulator, 5 nodes).
TEST(Membership, ADownMemberThatTalksIsToldEvenWithoutTheQuorum) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_peer_connected(id("c", 6), 0);
  for (std::int64_t t = 100; t <= 1900; t += 100) {
    confirm(m, id("c", 6), t);  // b falls silent; c vouches for a
    (void)m.tick(t);
  }
  ASSERT_EQ(m.find("b")->status, MemberStatus::kDown);
  (void)m.tick(3500);  // c silent too: no quorum now
  ASSERT_FALSE(m.has_quorum(3500));
  v1::MembershipMessage hb;
  hb.mutable_heartbeat()->set_table_hash(1);
  Step s = m.on_message(id("b", 5), hb, 3600);  // the cut healed: b talks
  ASSERT_EQ(send_targets(s, true), (std::vector<std::string>{"b"}));
  bool says_down = false;
  for (const auto& x : s.sends.front().message.gossip().members()) {
    if (x.name() == "b" && x.status() == v1::MEMBER_STATUS_DOWN) says_down = true;
  }
  EXPECT_TRUE(says_down);
}

TEST(Membership, ANewerProcessWithOurNameSupersedesUs) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_message(id("b", 5), gossip_of({member("a", 2, MemberStatus::kUp)}), 10);
  EXPECT_TRUE(m.self_down());
  EXPECT_EQ(m.find("a")->incarnation, 1u);  // we never impersonate the other process
}

TEST(Membership, InvalidOrUnknownEntriesAreSkipped) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  v1::MembershipMessage g = gossip_of({member("c", 7, MemberStatus::kUp)});
  auto* future = g.mutable_gossip()->add_members();
  future->set_name("d");
  future->set_incarnation(3);
  future->set_address("d:7000");
  future->set_status(static_cast<v1::MemberStatus>(42));  // from a newer version
  auto* bad = g.mutable_gossip()->add_members();
  bad->set_name("bad name");
  bad->set_incarnation(3);
  bad->set_address("x:1");
  bad->set_status(v1::MEMBER_STATUS_UP);
  (void)m.on_message(id("b", 5), g, 10);
  EXPECT_NE(m.find("c"), nullptr);
  EXPECT_EQ(m.find("d"), nullptr);
  EXPECT_EQ(m.find("bad name"), nullptr);
}

TEST(Membership, TableIsBoundedAndTombstonesGoFirst) {
  MembershipConfig c = config("a");
  c.max_members = 3;
  Membership m(c);
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_message(id("b", 5), gossip_of({member("c", 1, MemberStatus::kDown)}), 1);
  (void)m.on_message(id("b", 5), gossip_of({member("d", 1, MemberStatus::kUp)}), 2);
  EXPECT_EQ(m.find("c"), nullptr);  // evicted for d
  EXPECT_NE(m.find("d"), nullptr);
  (void)m.on_message(id("b", 5), gossip_of({member("e", 1, MemberStatus::kUp)}), 3);
  EXPECT_EQ(m.find("e"), nullptr);  // full of live members: refused
  EXPECT_EQ(m.members().size(), 3u);
}

TEST(Membership, TombstonesExpire) {
  MembershipConfig c = config("a");
  c.down_retention_ms = 1000;
  Membership m(c);
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_peer_connected(id("c", 6), 0);
  for (std::int64_t t = 200; t <= 1600; t += 200) confirm(m, id("c", 6), t);
  (void)m.tick(1600);  // b down at 1600 (a and c hold the quorum)
  ASSERT_EQ(m.find("b")->status, MemberStatus::kDown);
  (void)m.tick(2600);
  EXPECT_NE(m.find("b"), nullptr);
  (void)m.tick(2601);
  EXPECT_EQ(m.find("b"), nullptr);
}

TEST(Membership, CodecRefusesGarbageAndUnknownKinds) {
  EXPECT_FALSE(decode_membership("\xff\xff garbage").ok());
  EXPECT_FALSE(decode_membership("").ok());  // no body
  v1::MembershipMessage hb;
  hb.mutable_heartbeat()->set_table_hash(7);
  auto d = decode_membership(encode_membership(hb));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().heartbeat().table_hash(), 7u);
  v1::MembershipMessage big;
  for (std::size_t i = 0; i <= kMaxGossipEntries; ++i) big.mutable_gossip()->add_members();
  EXPECT_FALSE(decode_membership(encode_membership(big)).ok());
}

}  // namespace
}  // namespace minotaur::cluster
