// The messages of the sync protocol (crdt/sync_replica.h) as plain values; crdt/codec.h turns
// them into bytes (crdt/sync.proto) and back.
//
//   PushBatch  a batch of the sender's own writes (a Delta with an exact context), numbered;
//              `lazy` when no flush of the sender waits for it (see sync_replica.h);
//   PushAck    "applied batch seq"; the sender re-sends a batch until it sees this;
//   Digest     the sender's causal context, per-bucket hashes of its live entries and the
//              replicas its live entries come from; asks the receiver for what it lacks;
//   CatchUp    a chunk of what the digest's sender lacks (not acknowledged: the next digest
//              shows what is still missing); `more` asks for another digest at once;
//   Listing    every live (key, dot) of some buckets whose hashes differed, so the receiver can
//              drop entries the lister knows are dead (removals it missed while away).
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "crdt/awlww_map.h"
#include "crdt/delta.h"
#include "crdt/dot.h"

namespace minotaur::crdt {

struct PushBatch {
  std::uint64_t seq = 0;
  Delta delta;
  bool lazy = false;
  friend bool operator==(const PushBatch&, const PushBatch&) = default;
};

struct PushAck {
  std::uint64_t seq = 0;
  friend bool operator==(const PushAck&, const PushAck&) = default;
};

struct Digest {
  std::vector<DotRange> context;
  std::vector<std::uint64_t> bucket_hashes;  // kBuckets of them, or none
  std::vector<ReplicaId> live_replicas;
  bool want_digest = false;  // "send me your digest too"
  friend bool operator==(const Digest&, const Digest&) = default;
};

struct CatchUp {
  Delta delta;
  bool more = false;
  friend bool operator==(const CatchUp&, const CatchUp&) = default;
};

using SyncMessage = std::variant<PushBatch, PushAck, Digest, CatchUp, Listing>;

struct Outgoing {
  ReplicaId to = 0;
  SyncMessage message;
};

}  // namespace minotaur::crdt
