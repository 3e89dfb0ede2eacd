// Membership under the deterministic driver: many seeds, virtual time, delays and loss.
#include "cluster/membership_sim.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace minotaur::cluster {
namespace {

constexpr int kSeeds = 20;  // each scenario runs under this many network seeds

const std::vector<std::string> kFive = {"n0", "n1", "n2", "n3", "n4"};

// Five nodes; n0 has no seeds, the others all have only n0.
void start_five(MembershipSim& sim) {
  sim.add_node("n0", {});
  for (std::size_t i = 1; i < kFive.size(); ++i) sim.add_node(kFive[i], {"n0"});
}

std::vector<std::string> without(std::vector<std::string> v, const std::string& x) {
  std::erase(v, x);
  return v;
}

TEST(MembershipSim, NodesConvergeFromOneSeed) {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    MembershipSim sim(SimOptions{.seed = seed});
    start_five(sim);
    ASSERT_TRUE(sim.run_until([&] { return sim.all_serve(kFive); }, 2000));
    for (const auto& n : kFive) EXPECT_TRUE(sim.membership(n).joined());
    // It stays converged, and nobody is ever declared down.
    sim.run_for(5000);
    EXPECT_TRUE(sim.all_serve(kFive));
    for (const auto& n : kFive) {
      for (const auto& e : sim.events(n)) EXPECT_NE(e.kind, MemberStatus::kDown);
    }
  }
}

TEST(MembershipSim, ALeavingNodeIsGoneAtOnce) {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    SimOptions o{.seed = seed};
    MembershipSim sim(o);
    start_five(sim);
    ASSERT_TRUE(sim.run_until([&] { return sim.all_serve(kFive); }, 2000));
    const std::int64_t t0 = sim.now_ms();
    sim.leave_and_exit("n2", 500);  // hands off for 500 ms, then exits
    const auto rest = without(kFive, "n2");
    // Out of placement within two network delays (direct, or relayed by a member that n2 was
    // not yet connected to), far below the failure bound.
    ASSERT_TRUE(sim.run_until([&] { return sim.all_serve(rest); }, 2 * o.max_delay_ms + 1));
    for (const auto& n : rest) {
      const auto at = sim.first_event_ms(n, "n2", MemberStatus::kLeaving);
      ASSERT_TRUE(at.has_value()) << n;
      EXPECT_LE(*at - t0, 2 * o.max_delay_ms);
    }
    // After it exits (connections close) it is down at once, with no failure time-out.
    sim.run_for(500 + 2 * o.max_delay_ms);
    for (const auto& n : rest) {
      const auto at = sim.first_event_ms(n, "n2", MemberStatus::kDown);
      ASSERT_TRUE(at.has_value()) << n;
      EXPECT_LE(*at - (t0 + 500), o.max_delay_ms) << n;
    }
    EXPECT_TRUE(sim.all_serve(rest));
  }
}

// Checks that every other node saw `victim` down within the documented bound after t0.
void expect_down_within_bound(const MembershipSim& sim, const SimOptions& o,
                              const std::string& victim, std::int64_t t0) {
  // Its last heartbeat left at most one interval before t0, so nobody may call it down before
  // t0 - heartbeat + failure bound; everyone must by t0 + bound + one tick + one delay.
  const std::int64_t earliest = t0 - o.heartbeat_interval_ms + o.failure_timeout_ms;
  const std::int64_t latest = t0 + o.failure_timeout_ms + o.tick_interval_ms + o.max_delay_ms;
  for (const auto& n : without(kFive, victim)) {
    const auto at = sim.first_event_ms(n, victim, MemberStatus::kDown);
    ASSERT_TRUE(at.has_value()) << n << " never saw " << victim << " down";
    EXPECT_GE(*at, earliest) << n;
    EXPECT_LE(*at, latest) << n;
  }
}

TEST(MembershipSim, ASilentNodeIsDeclaredDownWithinTheBound) {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    SimOptions o{.seed = seed};
    MembershipSim sim(o);
    start_five(sim);
    ASSERT_TRUE(sim.run_until([&] { return sim.all_serve(kFive); }, 2000));
    sim.run_for(static_cast<std::int64_t>(seed * 7 % 200));  // vary the phase
    const std::int64_t t0 = sim.now_ms();
    sim.freeze("n3");  // hung process: connections stay open, nothing comes out
    sim.run_for(o.failure_timeout_ms + 500);
    expect_down_within_bound(sim, o, "n3", t0);
    EXPECT_TRUE(sim.all_serve(without(kFive, "n3")));
  }
}

TEST(MembershipSim, ACrashedNodeIsDeclaredDownWithinTheBound) {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    SimOptions o{.seed = seed};
    MembershipSim sim(o);
    start_five(sim);
    ASSERT_TRUE(sim.run_until([&] { return sim.all_serve(kFive); }, 2000));
    const std::int64_t t0 = sim.now_ms();
    sim.crash("n0");  // the seed itself dies (SIGKILL: its connections close)
    sim.run_for(o.failure_timeout_ms + 500);
    expect_down_within_bound(sim, o, "n0", t0);
    EXPECT_TRUE(sim.all_serve(without(kFive, "n0")));
  }
}

TEST(MembershipSim, ARestartedNodeIsANewIncarnation) {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    MembershipSim sim(SimOptions{.seed = seed});
    start_five(sim);
    ASSERT_TRUE(sim.run_until([&] { return sim.all_serve(kFive); }, 2000));
    const std::uint64_t old_inc = sim.membership("n1").config().self.incarnation;
    sim.restart("n1");  // crash, then the same name and address come back at once
    const std::uint64_t new_inc = sim.membership("n1").config().self.incarnation;
    ASSERT_GT(new_inc, old_inc);
    auto everyone_has_new = [&] {
      for (const auto& n : kFive) {
        const Member* m = sim.membership(n).find("n1");
        if (m == nullptr || m->incarnation != new_inc || m->status != MemberStatus::kUp) {
          return false;
        }
      }
      return sim.all_serve(kFive);
    };
    ASSERT_TRUE(sim.run_until(everyone_has_new, 2000));
    for (const auto& n : without(kFive, "n1")) {
      const auto down = sim.first_event_ms(n, "n1", MemberStatus::kDown, old_inc);
      const auto up = sim.first_event_ms(n, "n1", MemberStatus::kUp, new_inc);
      ASSERT_TRUE(down.has_value()) << n;
      ASSERT_TRUE(up.has_value()) << n;
      EXPECT_LE(*down, *up) << n;
    }
    sim.run_for(3000);  // the old incarnation never comes back
    EXPECT_TRUE(everyone_has_new());
  }
}

TEST(MembershipSim, ConvergesWhenMessagesAreLost) {
  for (std::uint64_t seed = 1; seed <= kSeeds; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    SimOptions o{.seed = seed, .max_delay_ms = 60, .loss_probability = 0.2};
    MembershipSim sim(o);
    start_five(sim);
    ASSERT_TRUE(sim.run_until([&] { return sim.all_serve(kFive); }, 5000));
    sim.leave_and_exit("n4", 300);
    const auto rest = without(kFive, "n4");
    ASSERT_TRUE(sim.run_until([&] { return sim.all_serve(rest); }, 3000));
  }
}

TEST(MembershipSim, TheSameSeedGivesTheSameRun) {
  auto run = [](std::uint64_t seed) {
    MembershipSim sim(SimOptions{.seed = seed, .loss_probability = 0.1});
    start_five(sim);
    sim.run_for(1000);
    sim.crash("n2");
    sim.run_for(2500);
    return sim.trace_hash();
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

}  // namespace
}  // namespace minotaur::cluster
