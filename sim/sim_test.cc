// The simulator's own tests: many seeds pass every checker, a seed replays exactly, and the
// checkers catch deliberately broken variants of the protocol.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "sim/world.h"

namespace minotaur::sim {
namespace {

// Seeds per test; MINOTAUR_SIM_SEEDS raises it for a long run (scripts/sim.sh).
std::uint64_t seed_count(std::uint64_t fallback) {
  if (const char* s = std::getenv("MINOTAUR_SIM_SEEDS")) return std::strtoull(s, nullptr, 10);
  return fallback;
}

class Sim : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::off); }
  void TearDown() override { spdlog::set_level(spdlog::level::info); }
};

// Returns how many names an operator removed in all those runs.
std::uint64_t run_seeds(SimConfig config, std::uint64_t first, std::uint64_t count) {
  std::uint64_t removals = 0;
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    config.seed = seed;
    const SimResult r = run(config);
    EXPECT_TRUE(r.ok) << r.report(seed);
    if (!r.ok) break;
    EXPECT_GT(r.acknowledged, 0u) << r.report(seed);
    removals += r.removals;
  }
  return removals;
}

// Each configuration below passes every checker for every seed of its range; the ranges hold
// the seeds at which the simulator found the bugs fixed so far (e.g. stops: 12 and 186; sync:
// 10044 and 10046; five nodes: 20003; partitions: 1, 2, 3 and 16), so they stay regression
// tests. Kills and cuts come one at a time (SimConfig::overlapping_faults); graceful stops at
// any time. The long run is scripts/sim.sh.
TEST_F(Sim, GracefulStopsLoseNothingAndKeepOneOwner) {
  SimConfig c;
  c.freezes = false;
  c.kills = false;
  c.partitions = false;
  run_seeds(c, 1, seed_count(200));
}

TEST_F(Sim, KillsUnderAsyncReplicationLoseOnlyTheReplicationWindow) {
  SimConfig c;
  c.freezes = false;
  c.stops = false;
  c.partitions = false;
  run_seeds(c, 1, seed_count(100));
}

TEST_F(Sim, StopsAndKillsUnderSyncReplicationLoseNothingAcknowledged) {
  SimConfig c;
  c.freezes = false;
  c.partitions = false;
  c.sync = true;
  run_seeds(c, 10'001, seed_count(100));
}

// Data dirs: every kill now restarts from the node's disk, and power cuts of the whole cluster
// (every node at once, back one by one) are among the faults. Under sync nothing acknowledged
// is lost even then; under async at most what the acknowledging node had neither replicated
// nor written when the power went.
TEST_F(Sim, DataDirsKeepEveryGameThroughPowerCutsUnderSync) {
  SimConfig c;
  c.disks = true;
  c.sync = true;
  run_seeds(c, 40'001, seed_count(100));
}

// The rule: a hand-off whose target dies, with the session ours again, keeps its frozen copy
// until the store can be read (quorum, caught up), then starts from the newer of the two. At this
// seed the target died while the sender had no quorum; the sender dropped its copy at once, the
// store still named it as the holder, and the next owner waited for it forever: two games were
// hosted by no node.
TEST_F(Sim, ASessionWhoseHandOffTargetDiedIsHostedAgain) {
  SimConfig c;
  c.disks = true;
  c.sync = true;
  run_seeds(c, 952, 1);
}

TEST_F(Sim, DataDirsKeepEveryGameThroughPowerCutsUnderAsync) {
  SimConfig c;
  c.disks = true;
  run_seeds(c, 50'001, seed_count(100));
}

TEST_F(Sim, FiveNodesUnderStopsAndKills) {
  SimConfig c;
  c.freezes = false;
  c.nodes = 5;
  c.games = 10;
  c.partitions = false;
  c.sync = true;
  run_seeds(c, 20'001, seed_count(40));
}

// Seed 906 (5 nodes, all faults) found it: a node on the minority side of a cut, learning of
// another member's death, started handing its stale sessions off and stashed them "moving" at
// their old epoch; in the last-writer-wins store that write beat the majority's newer epoch,
// and the session was started again from it without the changes accepted meanwhile. A node
// without the quorum now writes no such stash.
TEST_F(Sim, ACutOffNodeDoesNotOverwriteNewerStashes) {
  SimConfig c;
  c.nodes = 5;
  c.games = 10;
  run_seeds(c, 906, 1);
}

TEST_F(Sim, PartitionsKeepOneOwnerAndHeal) {
  SimConfig c;
  c.freezes = false;
  c.stops = false;
  c.kills = false;
  run_seeds(c, 1, seed_count(100));
  c.sync = true;
  run_seeds(c, 30'001, seed_count(50));
}

// A node stops running for 0.2-4 s (a long pause); past the failure bound the others declare
// it down and start its sessions. When it runs again it serves nothing on its old lease.
TEST_F(Sim, StalledNodesAcceptNothingOnAnOldLease) {
  SimConfig c;
  c.stops = false;
  c.kills = false;
  c.partitions = false;
  run_seeds(c, 50'001, seed_count(100));
  c.sync = true;
  run_seeds(c, 51'001, seed_count(50));
}

TEST_F(Sim, StopsKillsAndPartitionsMixed) {
  SimConfig c;
  run_seeds(c, 40'001, seed_count(150));
  c.sync = true;
  run_seeds(c, 41'001, seed_count(100));
  c.sync = false;
  c.nodes = 5;
  c.games = 10;
  run_seeds(c, 42'001, seed_count(40));
}

// An operator removes the names of members that are down (killed, stopped, stalled or cut
// off), through random nodes, among all the other faults. Where that node still hears the
// member, holds no quorum (the minority side of a cut) or has not seen the last change spread,
// the removal is refused; a removed node that is alive is told it is down and rejoins as a new
// member, a voter only once admitted again. One owner and nothing lost all the same.
TEST_F(Sim, OperatorRemovalsKeepOneOwnerAndLoseNothing) {
  SimConfig c;
  c.removals = true;
  std::uint64_t removed = run_seeds(c, 60'001, seed_count(150));
  c.sync = true;
  removed += run_seeds(c, 61'001, seed_count(100));
  c.sync = false;
  c.nodes = 5;
  c.games = 10;
  removed += run_seeds(c, 62'001, seed_count(40));
  EXPECT_GT(removed, 0u) << "no removal was accepted: the test checks nothing";
}

// Kills and cuts that overlap are beyond the guarantees (one failure at a time), and some such
// seeds still fail (`minotaur sim --overlapping-faults --seeds N` runs them); this test keeps only
// seeds whose bug is fixed. Seed 212 (5 nodes) found a bug that is fixed: a node cut off with one
// other, which had not heard of two restarted members, counted a "majority" of three voters in a
// cluster of five. The bugs the earlier seeds of this kind found are kept by unit tests
// (Membership.AJoinerCountsTheMembersItsSeedListsAsVoters,
// SyncReplica.CaughtUpSinceAMarkNeedsAFreshDigestFromEveryNeighbour): their seeds replay other runs
// since the simulated network keeps connections in order.
TEST_F(Sim, OverlappingFaultsThatFoundBugs) {
  SimConfig c;
  c.overlapping_faults = true;
  c.freezes = false;  // as when it was found
  c.nodes = 5;
  c.games = 10;
  run_seeds(c, 212, 1);
}

TEST_F(Sim, TheSameSeedGivesTheSameTrace) {
  SimConfig c;
  c.seed = 77;
  const SimResult a = run(c);
  const SimResult b = run(c);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.acknowledged, b.acknowledged);
  EXPECT_EQ(a.events, b.events);
  c.seed = 78;
  EXPECT_NE(run(c).trace_hash, a.trace_hash);
}

// The checkers catch deliberately broken variants of the protocol within the seeds that the
// correct protocol passes (PartitionsKeepOneOwnerAndHeal, GracefulStopsLoseNothing...).
std::uint64_t failing_seeds(SimConfig c, std::uint64_t count) {
  std::uint64_t failed = 0;
  for (std::uint64_t seed = 1; seed <= count; ++seed) {
    c.seed = seed;
    if (!run(c).ok) ++failed;
  }
  return failed;
}

TEST_F(Sim, WithoutTheQuorumLeaseTheCheckersFindTwoOwners) {
  SimConfig c;
  c.freezes = false;
  c.stops = false;
  c.kills = false;
  c.unsafe_no_quorum = true;
  EXPECT_GT(failing_seeds(c, 50), 0u) << "no seed caught a cut-off node that kept accepting";
}

TEST_F(Sim, ALeaseReadOnlyAtTicksIsCaughtByAStall) {
  SimConfig c;
  c.stops = false;
  c.kills = false;
  c.partitions = false;
  c.unsafe_stale_quorum = true;
  EXPECT_GT(failing_seeds(c, 50), 0u) << "no seed caught a stalled node serving on its old lease";
}

// An operator who forces removals (no quorum needed) of every member one node cannot hear hands
// the minority side of a cut a majority of its own: both sides accept changes.
TEST_F(Sim, ForcedRemovalsOnTheMinoritySideAreCaught) {
  SimConfig c;
  c.freezes = false;
  c.stops = false;
  c.kills = false;
  c.removals = true;
  c.unsafe_force_removals = true;
  EXPECT_GT(failing_seeds(c, 50), 0u) << "no seed caught a minority that forced removals";
}

// The rule: under --replication sync with data dirs a write is acknowledged only once it is on
// the owner's disk as well as at the peers; otherwise a power cut right after the
// acknowledgement takes it away with every copy in memory.
TEST_F(Sim, ASyncWriteThatDoesNotWaitForTheDiskIsCaughtByAPowerCut) {
  SimConfig c;
  c.disks = true;
  c.sync = true;
  c.unsafe_skip_disk_wait = true;
  EXPECT_GT(failing_seeds(c, 50), 0u) << "no seed caught a sync write acknowledged before the disk";
}

TEST_F(Sim, AHandoffThatDoesNotWaitForTheAckIsCaught) {
  SimConfig c;
  c.freezes = false;
  c.kills = false;
  c.partitions = false;
  c.unsafe_skip_ack = true;
  EXPECT_GT(failing_seeds(c, 50), 0u) << "no seed caught a hand-off that skips the ack";
}

// The rule: a session picked up from the store takes changes only once a peer holds its new
// epoch. Otherwise a node that picked a game up and was cut off before its stash of the new epoch
// left it accepts changes at that epoch within its lease, while the majority picks the game up
// from the older stash at the same epoch: one epoch, two owners. A cut right after a pick-up
// needs two faults close together (a pick-up follows a kill), so the seed below runs with
// overlapping faults; the protocol passes it, the broken variant fails it with two owners.
// A change that moves the timing needs a new seed: compare the failing seeds of
// `minotaur sim --seeds 1500 --overlapping-faults` with and without --unsafe-skip-confirm, and
// take one that fails with "two owners at one epoch".
TEST_F(Sim, APickUpTakesChangesOnlyOnceAPeerHoldsItsEpoch) {
  constexpr std::uint64_t kSeed = 1065;
  SimConfig c;
  c.overlapping_faults = true;
  run_seeds(c, kSeed, 1);
  c.seed = kSeed;
  c.unsafe_skip_confirm = true;
  const SimResult broken = run(c);
  ASSERT_FALSE(broken.ok) << "the broken variant passed: the seed no longer replays the case";
  EXPECT_NE(broken.failures.front().find("two owners at one epoch"), std::string::npos)
      << broken.failures.front();
}

}  // namespace
}  // namespace minotaur::sim
