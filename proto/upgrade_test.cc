#include "proto/upgrade.h"

#include <gtest/gtest.h>

#include "proto/codec.h"
#include "proto/testdata/state_sample.h"

namespace minotaur::proto {
namespace {

template <typename Message>
void expect_one_step_per_version(std::span<const UpgradeStep<Message>> steps) {
  ASSERT_EQ(steps.size(), kStateVersion) << "a step from each version before this build's";
  for (std::uint32_t v = 0; v < kStateVersion; ++v) {
    EXPECT_EQ(steps[v].from, v) << steps[v].what;
  }
}

TEST(Upgrade, EveryStateVersionBeforeThisBuildsHasItsStepInOrder) {
  expect_one_step_per_version(game_upgrade_steps());
  expect_one_step_per_version(lobby_upgrade_steps());
}

// An older node passes a newer state on with its own, older, version stamped on it, so a step
// meets states that already have the new meaning: it must leave them as they are.
TEST(Upgrade, AStepOnAStateThatHasTheNewMeaningChangesNothing) {
  v1::Game g;
  ASSERT_TRUE(g.ParseFromString(encode_game(testdata::sample_game())));
  for (const auto& step : game_upgrade_steps()) {
    v1::Game once = g;
    step.apply(once);
    v1::Game twice = once;
    step.apply(twice);
    EXPECT_EQ(once.SerializeAsString(), twice.SerializeAsString()) << step.what;
    EXPECT_EQ(once.SerializeAsString(), g.SerializeAsString()) << step.what;
  }
  v1::Lobby l;
  ASSERT_TRUE(l.ParseFromString(encode_lobby(testdata::sample_started_lobby())));
  for (const auto& step : lobby_upgrade_steps()) {
    v1::Lobby once = l;
    step.apply(once);
    EXPECT_EQ(once.SerializeAsString(), l.SerializeAsString()) << step.what;
  }
}

TEST(Upgrade, AStateFromBeforeStateVersionsIsBroughtUpToThisBuilds) {
  v1::Game g;
  ASSERT_TRUE(g.ParseFromString(encode_game(testdata::sample_game())));
  g.clear_state_version();
  g.clear_board_radius();  // as the first schema wrote it
  upgrade(g);
  EXPECT_EQ(g.state_version(), kStateVersion);
  EXPECT_EQ(g.board_radius(), 4);
}

TEST(Upgrade, AStateFromANewerBuildIsReadAsItIs) {
  v1::Game g;
  ASSERT_TRUE(g.ParseFromString(encode_game(testdata::sample_game())));
  g.set_state_version(kStateVersion + 3);
  const std::string bytes = g.SerializeAsString();
  upgrade(g);
  EXPECT_EQ(g.SerializeAsString(), bytes);
  auto decoded = decode_game(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(decoded.value(), testdata::sample_game());
}

}  // namespace
}  // namespace minotaur::proto
