// The replicated store's benchmark (issue 8; `minotaur bench crdt` prints what this returns).
//
// One process, two SyncReplicas (crdt/sync_replica.h) exchanging every message through the wire
// codec (encode -> bytes -> decode), driven by a loop that delivers as fast as it can: the
// figures are the protocol's and the data structure's cost, without a network. Measured:
//   converge_ms     from the first of `keys` puts of `value_bytes` on A until all are on B
//                   (write_ms of it writing on A, sync_ms from the last put until all on B);
//   latency_*_us    one put on A until B has it, through the protocol (tick, push, ack),
//                   over latency_samples samples, after the bulk load;
//   bytes_per_key   growth of the process's resident memory (/proc/self/statm) while B
//                   received the bulk load, divided by keys: B's cost per key. Weakness: memory
//                   A frees meanwhile (its trimmed log) can be reused by B and hide a little.
// This is a driver, so unlike the store it reads the clock. Not thread-safe; call from one
// thread. progress (may be empty) gets a line per phase.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "crdt/sync_replica.h"

namespace minotaur::crdt {

struct CrdtBenchOptions {
  std::size_t keys = 100'000;
  std::size_t value_bytes = 1024;
  std::size_t latency_samples = 2000;
  SyncOptions sync;
};

// Runs the benchmark; returns one JSON object with keys, value_bytes, converge_ms, write_ms,
// sync_ms, latency_p50_us, latency_p99_us, latency_max_us, bytes_per_key, sender_bytes_per_key,
// wire_bytes_per_key and messages.
std::string run_crdt_bench(const CrdtBenchOptions& options,
                           const std::function<void(std::string_view)>& progress);

}  // namespace minotaur::crdt
