// The bench's memory phase (phase 5 of cluster_bench.h): a fresh single node, a warm-up batch
// of games, then `memory_sessions` idle games; its VmRSS growth per game.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "base/result.h"
#include "bench/cluster_bench.h"
#include "bench/games_setup.h"

namespace minotaur::bench {

// {"bytes_per_session", "memory_sessions", "rss_before_bytes", "rss_after_bytes"}.
Result<boost::json::object, std::string> memory_phase(const ClusterBenchOptions& o,
                                                      const Progress& progress);

}  // namespace minotaur::bench
