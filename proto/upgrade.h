// State upgrades: a game or lobby is read at the state version of the build that wrote it and
// brought up to this build's, one explicit step per version, before it is decoded.
//
// Protocol Buffers' rules (proto/EVOLUTION.md) keep bytes readable both ways; what they cannot
// keep is a field's meaning. When a release changes what a value means, it raises
// kStateVersion and adds the step from the version before, written on the message as it came
// off the wire. The rules a step follows, so that states that go back and forth during a
// rolling deploy stay right:
//
// - A step derives new-meaning values from fields the older version writes, never from fields
//   only the newer one knows: an older node passes those on unchanged but does not update them,
//   so after an older node changed a state they may be stale, and its state_version says so.
// - Running a step on a state that already has the new meaning changes nothing (an older node
//   that passes on a newer state stamps its own, older, version on it).
// - Until no release that reads the old meaning can run in a cluster with this one, the newer
//   build keeps writing the old field in its old meaning too, so that older readers stay right.
//
// A state from a newer build (state_version above kStateVersion) is read as it is: the newer
// build wrote every field this one knows in the meaning this one gives it.
#pragma once

#include <cstdint>
#include <span>

#include "proto/game.pb.h"

namespace minotaur::proto {

// The state version this build writes. 0 is the state of builds from before state versions
// (release 0.1.0 and earlier); 1 is the first written.
inline constexpr std::uint32_t kStateVersion = 1;

// One step: brings a state from version `from` to `from + 1`.
template <typename Message>
struct UpgradeStep {
  std::uint32_t from;
  const char* what;  // what changed meaning, for a reader of the code and of the test output
  void (*apply)(Message&);
};

std::span<const UpgradeStep<v1::Game>> game_upgrade_steps();
std::span<const UpgradeStep<v1::Lobby>> lobby_upgrade_steps();

// Runs every step from the message's state_version up to kStateVersion, in order, and sets
// state_version to kStateVersion; a message from a newer build is left as it is.
void upgrade(v1::Game& game);
void upgrade(v1::Lobby& lobby);

}  // namespace minotaur::proto
