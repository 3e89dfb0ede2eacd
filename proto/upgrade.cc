#include "proto/upgrade.h"

#include <array>

#include "base/assert.h"

namespace minotaur::proto {
namespace {

// The first schema had no board radius: every board had radius 4, and a state written without
// one still means that, whatever this build's default.
void radius_of_the_first_schema(v1::Game& g) {
  if (g.board_radius() == 0) g.set_board_radius(4);
}

constexpr std::array<UpgradeStep<v1::Game>, 1> kGameSteps{{
    {0, "a board without a radius has radius 4", radius_of_the_first_schema},
}};
// Lobbies have not changed meaning yet: state version 0 and 1 read alike.
constexpr std::array<UpgradeStep<v1::Lobby>, 1> kLobbySteps{{
    {0, "nothing changed meaning", [](v1::Lobby&) {}},
}};

template <typename Message, std::size_t N>
void run(Message& m, const std::array<UpgradeStep<Message>, N>& steps) {
  if (m.state_version() > kStateVersion) return;  // a newer build's: read as it is
  for (const UpgradeStep<Message>& step : steps) {
    if (step.from < m.state_version()) continue;
    MINOTAUR_ASSERT(step.from == m.state_version());  // one step per version, in order
    step.apply(m);
    m.set_state_version(step.from + 1);
  }
  MINOTAUR_ASSERT(m.state_version() == kStateVersion);
}

}  // namespace

std::span<const UpgradeStep<v1::Game>> game_upgrade_steps() {
  return kGameSteps;
}
std::span<const UpgradeStep<v1::Lobby>> lobby_upgrade_steps() {
  return kLobbySteps;
}

void upgrade(v1::Game& game) {
  run(game, kGameSteps);
}
void upgrade(v1::Lobby& lobby) {
  run(lobby, kLobbySteps);
}

}  // namespace minotaur::proto
