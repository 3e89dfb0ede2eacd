// One Membership state machine, driven by hand: the quorum lease, voters (who counts, the
// admission of full members) and an operator's removals.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cluster/membership.h"
#include "cluster/membership_testing.h"

namespace minotaur::cluster {
namespace {

using namespace test_support;

// Without a majority a node declares nobody down: of two, the one left cannot tell a crashed
// peer from a partition in which the other side goes on, so it waits (and accepts no change).
TEST(Membership, WithoutTheQuorumASilentMemberIsNotDeclaredDown) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  confirm(m, id("b", 5), 100);
  EXPECT_TRUE(m.has_quorum(200));
  EXPECT_TRUE(m.tick(5000).events.empty());
  EXPECT_FALSE(m.has_quorum(5000));
  EXPECT_EQ(m.find("b")->status, MemberStatus::kUp);
}

// A member that vouched once for a node that lost the quorum, and then fell silent, does not
// give it back: regaining needs fresh confirmations from a majority for quorum_regain_ms.
TEST(Membership, ALostQuorumComesBackOnlyWithFreshConfirmations) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  (void)m.on_peer_connected(id("c", 6), 0);
  for (std::int64_t t = 100; t <= 500; t += 100) {
    confirm(m, id("b", 5), t);
    (void)m.tick(t);
  }
  EXPECT_TRUE(m.has_quorum(500));
  (void)m.tick(1600);  // b silent for 1.1 s (c never confirmed: no voter): lost
  EXPECT_FALSE(m.has_quorum(1600));
  confirm(m, id("b", 5), 1700);  // one word...
  for (std::int64_t t = 1700; t <= 2400; t += 100) (void)m.tick(t);
  EXPECT_FALSE(m.has_quorum(2400));  // ...is not enough
  for (std::int64_t t = 2500; t <= 3000; t += 100) {
    confirm(m, id("b", 5), t);
    (void)m.tick(t);
  }
  EXPECT_TRUE(m.has_quorum(3000));  // held without a break for 400 ms
}

// A node that joins (or restarts) on the minority side of a partition learns of the majority
// only from its seed's table. Those members never confirmed it, yet they are voters: with the
// seed alone it holds no quorum, and so declares none of them down (found by the simulator, 5
// nodes). Here the cluster is forming (nobody admitted yet: every name counts); the same with
// admitted voters is AJoinerCountsTheVotersItsSeedLists.
TEST(Membership, AJoinerCountsTheMembersItsSeedListsAsVoters) {
  Membership m(config("a", {"b:7000"}));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 10);
  (void)m.on_message(
      id("b", 5),
      gossip_of({member("b", 5, MemberStatus::kUp), member("c", 6, MemberStatus::kUp),
                 member("d", 7, MemberStatus::kUp), member("e", 8, MemberStatus::kUp),
                 member("a", 1, MemberStatus::kUp)}),
      20);
  for (std::int64_t t = 100; t <= 3000; t += 100) {
    confirm(m, id("b", 5), t);
    EXPECT_FALSE(m.has_quorum(t)) << t;  // a and b of five
    for (const MemberEvent& e : m.tick(t).events) EXPECT_NE(e.kind, MemberStatus::kDown) << t;
  }
  // Once c and d confirm it too, it holds a majority.
  confirm(m, id("c", 6), 3050);
  confirm(m, id("d", 7), 3050);
  EXPECT_TRUE(m.has_quorum(3100));
}

// Two members leave (a deploy restarts them) and a cut then parts this node and one other
// from the rest. The two that left still count: two of five is no majority, even though the
// names that are up here are b and a of three (found by the simulator, 5 nodes).
TEST(Membership, MembersThatLeftStillCountForTheQuorum) {
  Membership m(config("a"));
  form(m, {id("b", 5), id("c", 6), id("d", 7), id("e", 8)});
  std::int64_t now = 2000;
  for (const auto& [name, inc] : {std::pair{"d", 7}, {"e", 8}}) {
    const auto who = id(name, static_cast<std::uint64_t>(inc));
    (void)m.on_message(
        who, gossip_of({member(name, static_cast<std::uint64_t>(inc), MemberStatus::kLeaving)}),
        now += 10);
    (void)m.on_peer_disconnected(who, now += 10);
    ASSERT_EQ(m.find(name)->status, MemberStatus::kDown);
  }
  // The cut: only b still talks.
  for (std::int64_t t = 2100; t <= 5000; t += 100) {
    confirm(m, id("b", 5), t);
    for (const MemberEvent& e : m.tick(t).events) EXPECT_NE(e.kind, MemberStatus::kDown) << t;
  }
  EXPECT_FALSE(m.has_quorum(5000));
  EXPECT_EQ(m.find("c")->status, MemberStatus::kUp);  // not declared down from here
}

// A process that holds the secret connects under new names and goes away without ever taking
// part. Counting those names as voters left three live nodes of six names without a quorum, so
// nobody could declare the newcomers down and the cluster froze for good.
TEST(Membership, RogueHandshakesDoNotEnlargeTheQuorum) {
  Membership m(config("a"));
  (void)m.start(0);
  const std::vector<NodeIdentity> peers = {id("b", 5), id("c", 6)};
  for (const auto& p : peers) (void)m.on_peer_connected(p, 0);
  hold(m, peers, 100, 3000);
  ASSERT_TRUE(m.has_quorum(3000));
  std::int64_t now = 3000;
  for (const std::string rogue : {"r1", "r2", "r3"}) {
    (void)m.on_peer_connected(id(rogue, 9), now += 10);
    (void)m.on_peer_disconnected(id(rogue, 9), now += 10);
  }
  for (std::int64_t t = 3100; t <= 6000; t += 100) {
    hold(m, peers, t, t);
    EXPECT_TRUE(m.has_quorum(t)) << t;
  }
  for (const std::string rogue : {"r1", "r2", "r3"}) {
    ASSERT_NE(m.find(rogue), nullptr);
    EXPECT_EQ(m.find(rogue)->status, MemberStatus::kDown) << rogue;
  }
}

// A full member is one that took part for a failure bound: a newcomer votes once it confirmed
// this node's table for 1.5 s without a gap, one that only handshook never.
TEST(Membership, ANewcomerVotesOnceItConfirmedForAFailureBound) {
  Membership m(config("a"));
  form(m, {id("b", 5), id("c", 6)});
  (void)m.on_peer_connected(id("d", 7), 2050);
  (void)m.on_peer_connected(id("e", 8), 2050);  // handshakes, never confirms
  hold(m, {id("b", 5), id("c", 6), id("d", 7)}, 2100, 3500);
  EXPECT_FALSE(m.votes("d"));
  EXPECT_EQ(m.voter_count(), 3u);
  EXPECT_TRUE(m.has_quorum(3500));  // a, b, c of three; e is no voter
  hold(m, {id("b", 5), id("c", 6), id("d", 7)}, 3600, 5000);
  EXPECT_TRUE(m.votes("d"));
  EXPECT_FALSE(m.votes("e"));
  EXPECT_EQ(m.find("e")->status, MemberStatus::kDown);  // declared down by the quorum
  EXPECT_EQ(m.voter_count(), 4u);
}

// The vote belongs to the name: a restarted member votes at once, and a restarted node learns
// from its first gossip that it votes itself.
TEST(Membership, ARestartedVoterVotesAtOnce) {
  Membership m(config("a"));
  form(m, {id("b", 5), id("c", 6)});
  (void)m.on_peer_connected(id("b", 9), 2100);
  EXPECT_EQ(m.find("b")->incarnation, 9u);
  EXPECT_TRUE(m.votes("b"));
  EXPECT_EQ(m.voter_count(), 3u);

  MembershipConfig restarted = config("b", {"a:7000"});
  restarted.self = id("b", 10);
  Membership b(restarted);
  join_through(b, id("a", 1),
               {member("a", 1, MemberStatus::kUp), member("b", 9, MemberStatus::kUp),
                member("c", 6, MemberStatus::kUp)});
  EXPECT_TRUE(b.votes("b"));
  EXPECT_FALSE(b.self_down());
  EXPECT_EQ(b.voter_count(), 3u);
}

// A node that joins counts the voters its seed's table lists, not only the seed: with the
// seed alone it holds no quorum (the joiner on the minority side of a cut).
TEST(Membership, AJoinerCountsTheVotersItsSeedLists) {
  Membership m(config("f", {"b:7000"}));
  join_through(m, id("b", 5),
               {member("b", 5, MemberStatus::kUp), member("c", 6, MemberStatus::kUp),
                member("d", 7, MemberStatus::kUp)});
  EXPECT_FALSE(m.votes("f"));
  EXPECT_EQ(m.voter_count(), 3u);
  for (std::int64_t t = 100; t <= 3000; t += 100) {
    confirm(m, id("b", 5), t);
    EXPECT_FALSE(m.has_quorum(t)) << t;  // b of b, c, d
    for (const MemberEvent& e : m.tick(t).events) EXPECT_NE(e.kind, MemberStatus::kDown) << t;
  }
  confirm(m, id("c", 6), 3050);
  EXPECT_TRUE(m.has_quorum(3100));
}

// An operator's removal of members that are gone shrinks the voters: of five voters, two down
// and removed, three are left, and two of them hold a majority again.
TEST(Membership, RemovalShrinksTheQuorum) {
  Membership m(config("a"));
  const std::vector<NodeIdentity> all = {id("b", 5), id("c", 6), id("d", 7), id("e", 8)};
  form(m, all);
  hold(m, {id("b", 5), id("c", 6)}, 2100, 4000);  // d and e fall silent
  ASSERT_EQ(m.find("d")->status, MemberStatus::kDown);
  ASSERT_EQ(m.find("e")->status, MemberStatus::kDown);
  Step s = m.remove("d", false, 4000).value();
  EXPECT_EQ(send_targets(s, true), (std::vector<std::string>{"b", "c"}));  // it spreads
  EXPECT_TRUE(m.removed("d"));
  EXPECT_FALSE(m.votes("d"));
  // Until b and c hold the table with d removed, the next change waits.
  auto busy = m.remove("e", false, 4000);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().error, Membership::RemoveError::kBusy);
  hold(m, {id("b", 5), id("c", 6)}, 4100, 4100);
  ASSERT_TRUE(m.remove("e", false, 4100).ok());
  EXPECT_EQ(m.voter_count(), 3u);
  // c falls silent too: a and b are two of the three voters left (before: two of five).
  hold(m, {id("b", 5)}, 4200, 6000);
  EXPECT_TRUE(m.has_quorum(6000));
  EXPECT_EQ(m.find("c")->status, MemberStatus::kDown);
}

TEST(Membership, RemovalOfALiveOrUnknownMemberIsRefused) {
  Membership m(config("a"));
  form(m, {id("b", 5), id("c", 6)});
  const auto alive = m.remove("b", false, 2000);
  ASSERT_FALSE(alive.ok());
  EXPECT_EQ(alive.error().error, Membership::RemoveError::kAlive);
  EXPECT_NE(alive.error().message.find("stop it"), std::string::npos) << alive.error().message;
  EXPECT_FALSE(m.remove("b", true, 2000).ok());  // not even with force
  const auto self = m.remove("a", true, 2000);
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.error().error, Membership::RemoveError::kAlive);
  const auto unknown = m.remove("zz", false, 2000);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().error, Membership::RemoveError::kUnknown);
  EXPECT_EQ(m.find("b")->status, MemberStatus::kUp);
  EXPECT_EQ(m.voter_count(), 3u);
  EXPECT_TRUE(m.has_quorum(2000));
}

// Two of three are gone for good: the survivor holds no quorum, and refuses to remove them on
// its own word (it might be the minority side of a cut). The operator's force removes them;
// then one voter of one holds the quorum.
TEST(Membership, WithoutTheQuorumOnlyForceRemoves) {
  Membership m(config("a"));
  form(m, {id("b", 5), id("c", 6)});
  for (std::int64_t t = 2100; t <= 5000; t += 100) (void)m.tick(t);
  ASSERT_FALSE(m.has_quorum(5000));
  ASSERT_EQ(m.find("b")->status, MemberStatus::kUp);  // nobody declared it down
  const auto refused = m.remove("b", false, 5000);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().error, Membership::RemoveError::kNoQuorum);
  EXPECT_NE(refused.error().message.find("force"), std::string::npos);
  EXPECT_EQ(m.find("b")->status, MemberStatus::kUp);
  Step s = m.remove("b", true, 5000).value();
  EXPECT_TRUE(has_event(s, "b", MemberStatus::kDown, 5));
  ASSERT_TRUE(m.remove("c", true, 5000).ok());
  EXPECT_TRUE(m.remove("c", true, 5000).ok());  // twice is once
  EXPECT_EQ(m.voter_count(), 1u);
  for (std::int64_t t = 5100; t <= 5600; t += 100) (void)m.tick(t);
  EXPECT_TRUE(m.has_quorum(5600));
}

// A removed member that comes back is told it is down, and its next incarnation is a
// candidate: stale gossip of the old admission does not bring its vote back.
TEST(Membership, ARemovedMemberRejoinsAsANewMember) {
  Membership m(config("a"));
  form(m, {id("b", 5), id("c", 6)});
  hold(m, {id("b", 5)}, 2100, 4000);
  ASSERT_EQ(m.find("c")->status, MemberStatus::kDown);
  ASSERT_TRUE(m.remove("c", false, 4000).ok());
  v1::MembershipMessage hb;
  hb.mutable_heartbeat()->set_table_hash(1);
  Step told = m.on_message(id("c", 6), hb, 4200);  // the old process talks again
  ASSERT_EQ(send_targets(told, true), (std::vector<std::string>{"c"}));
  bool says_removed = false;
  for (const auto& x : told.sends.front().message.gossip().members()) {
    if (x.name() == "c" && x.status() == v1::MEMBER_STATUS_DOWN && x.removed_incarnation() == 6) {
      says_removed = true;
    }
  }
  EXPECT_TRUE(says_removed);
  // b had not heard of the removal and says c (incarnation 6) votes: changes nothing.
  (void)m.on_message(id("b", 5), gossip_of({member("c", 6, MemberStatus::kUp)}, true), 4300);
  EXPECT_FALSE(m.votes("c"));
  (void)m.on_peer_connected(id("c", 11), 4400);
  EXPECT_EQ(m.find("c")->status, MemberStatus::kUp);
  EXPECT_FALSE(m.votes("c"));
  EXPECT_EQ(m.voter_count(), 2u);
  hold(m, {id("b", 5), id("c", 11)}, 4500, 6200);
  EXPECT_TRUE(m.votes("c"));
  EXPECT_EQ(m.voter_count(), 3u);
}

TEST(Membership, TheClusterRemovingThisNodeIsTold) {
  Membership m(config("a"));
  (void)m.start(0);
  (void)m.on_peer_connected(id("b", 5), 0);
  // b says this incarnation is up (a stale status) but removed.
  v1::MembershipMessage g =
      gossip_of({member("b", 5, MemberStatus::kUp), member("a", 1, MemberStatus::kUp)});
  g.mutable_gossip()->mutable_members(1)->set_removed_incarnation(1);
  Step s = m.on_message(id("b", 5), g, 10);
  EXPECT_TRUE(has_event(s, "a", MemberStatus::kDown, 1));
  EXPECT_TRUE(m.self_down());
}

}  // namespace
}  // namespace minotaur::cluster
