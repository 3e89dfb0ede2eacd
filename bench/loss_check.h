// The bench's loss check (phase 4 of cluster_bench.h): every game read back over HTTP and
// compared with what its client saw acknowledged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bench/games_setup.h"
#include "bench/ws_load.h"

namespace minotaur::bench {

struct Verdict {
  std::uint64_t lost_actions = 0;
  std::uint64_t lost_sessions = 0;
  std::uint64_t unreadable = 0;
  std::size_t encoded_game_bytes = 0;
};

// Reads every game back and compares it with what its client saw acknowledged: a game missing
// is a lost session; an acknowledged version above the game's, or a last acknowledged move the
// game does not show (and that no later unanswered attempt explains), a lost action.
Verdict check_losses(const std::vector<std::uint16_t>& ports,
                     const std::vector<SessionRecord>& records, const Progress& progress);

}  // namespace minotaur::bench
