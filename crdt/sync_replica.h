// SyncReplica: one replica of the replicated state store and its sync protocol, sans I/O.
//
// It owns an AwlwwMap (crdt/awlww_map.h) and talks to its neighbours only through values: the
// driver (the Asio runtime, the simulator, a test, crdt/bench.h) hands it messages with
// receive() and the time with tick(), and carries what take_outbox() returns. It never reads a
// clock or a socket; time is `now_ms` (any monotonic milliseconds that also serve as the HLC's
// wall time). Events (a flush acknowledged, a key arrived, a time-out) come out of take_events().
//
// Push: every local write appends a Mutation to a log shared by all neighbours. On tick, each
// neighbour gets PushBatches built from its cursor in the log (at most max_batch_bytes each, at
// most max_inflight_bytes unacknowledged per neighbour), read from the current state so the log
// holds no values. A batch is re-sent every resend_after_ms until its PushAck arrives; the log is
// trimmed below the point every neighbour acknowledged. Sequence numbers are never reused, so a
// late ack from an earlier session with a neighbour cannot acknowledge anything new. A batch
// sent while no flush waits is marked lazy: a receiver that acknowledges only what is on its
// disk (handoff/store_core.h) may then wait for its next periodic commit rather than commit at
// once; a flush re-sends each neighbour's newest in-flight lazy batch, not lazy.
//
// Anti-entropy: every anti_entropy_interval_ms (and at once for a new neighbour) we send a Digest
// (context + bucket hashes + live replicas). The receiver answers with CatchUp deltas for the
// dots we have not seen (with an exact context per chunk; its own writes still in our push
// pipeline are left out), or, when our contexts are equal but bucket hashes differ, with a
// Listing of those buckets (removals we missed while away). A digest that matches our state
// exactly tells us the neighbour has everything we have ("in sync"). Deltas are joined in
// AwlwwMap::JoinMode::kSync, so a key never looks removed while it is not (see awlww_map.h).

// flush(deadline): completes when every neighbour at the time of the call has everything this
// replica wrote before it — by acknowledged batches, or, for records it never got in a batch (it
// was added later, or its backlog overflowed the log and was dropped), by an in-sync digest.
//
// Compaction: retire_replica(R) says incarnation R is gone for good (and is no neighbour). R's
// dots are forgotten once no live entry here carries one and every neighbour's digest, received
// after the retirement, reports no live entry of R and a context that covers ours for R (or
// none of R). After that, dots of R are ignored (the map remembers the last
// MapLimits::max_forgotten_replicas forgotten ids). Weakness: a message of R delayed past all of
// that, or a neighbour that was away during it and comes back with a live entry of R, keeps
// that entry alive on its side only.
//
// One thread: the owner calls everything. Other weaknesses: anti-entropy answers scan the whole
// map; listings need equal contexts, so while both sides write without pause a missed removal
// waits for a quiet moment; a neighbour that stays listed but never answers is re-sent its
// window every resend_after_ms until the membership layer removes it; digests are answered
// without a rate limit (peers are authenticated members); byte bounds are estimates of the
// encoded size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crdt/awlww_map.h"
#include "crdt/messages.h"

namespace minotaur::crdt {

struct SyncOptions {
  std::size_t max_batch_bytes = 256 << 10;
  std::size_t max_inflight_bytes = 4 << 20;  // per neighbour, plus at most one batch
  std::uint64_t resend_after_ms = 200;
  std::uint64_t anti_entropy_interval_ms = 1000;
  std::size_t max_catch_up_bytes = 4 << 20;  // per digest answered
  std::size_t max_listing_bytes = 1 << 20;
  std::size_t max_log_records = 1 << 20;
  std::size_t max_neighbours = 256;
  std::size_t max_retired = 1024;
  std::size_t max_flushes = 1024;
  MapLimits map;
};

enum class SyncError {
  kUnknownNeighbour,  // a message from, or an operation on, a replica that is no neighbour
  kInvalidNeighbour,  // self, 0, or a replica that is still a neighbour (retire)
  kTooManyNeighbours,
  kTooManyRetired,
  kTooManyFlushes,
  kKeyTooLong,
  kValueTooLarge,
  kMalformedMessage,
};
const char* to_string(SyncError e);

using FlushId = std::uint64_t;

struct FlushDone {
  FlushId id = 0;
  // True when every neighbour of the call that is still a neighbour has it, and at least one
  // did (when there was any): neighbours removed meanwhile (down, cut off) do not count as
  // acknowledgements. False: the deadline passed first, or every neighbour went away.
  bool acked = false;
  friend bool operator==(const FlushDone&, const FlushDone&) = default;
};

class SyncReplica {
 public:
  explicit SyncReplica(ReplicaId self, SyncOptions options = {});

  ReplicaId self() const { return map_.self(); }

  // --- writes (sent on the next tick) ---
  Result<Ok, SyncError> put(std::string key, std::string value, std::uint64_t now_ms);
  void remove(std::string_view key);
  void reset_all();

  // --- reads ---
  const AwlwwMap& map() const { return map_; }
  std::optional<std::string_view> get(std::string_view key) const { return map_.get(key); }
  std::size_t size() const { return map_.size(); }

  // --- durability (storage/data_dir.h) ---
  // Starts this replica from a state kept on disk: the stored entries and context as one delta,
  // joined like a peer's, before any neighbour is added (the neighbours' digests then carry
  // what each side lacks). kMalformedMessage for a state that does not hold together.
  Result<Ok, SyncError> load(Delta stored, std::uint64_t now_ms);
  void track_changes(bool on) { map_.track_changes(on); }
  std::vector<std::string> take_changed_keys() { return map_.take_changed_keys(); }
  bool has_changed_keys() const { return map_.has_changed_keys(); }

  // --- membership ---
  Result<Ok, SyncError> add_neighbour(ReplicaId id, std::uint64_t now_ms);
  void remove_neighbour(ReplicaId id);
  bool has_neighbour(ReplicaId id) const { return neighbours_.contains(id); }
  Result<Ok, SyncError> retire_replica(ReplicaId id);

  // --- protocol ---
  // A message from neighbour `from`. Errors: kUnknownNeighbour, kMalformedMessage (the caller
  // may drop the connection); nothing changed in either case.
  Result<Ok, SyncError> receive(ReplicaId from, SyncMessage message, std::uint64_t now_ms);
  void tick(std::uint64_t now_ms);
  std::vector<Outgoing> take_outbox();
  std::vector<FlushDone> take_events();  // the flushes that completed since the last call

  // --- waiting ---
  Result<FlushId, SyncError> flush(std::uint64_t deadline_ms);

  // --- introspection (tests, metrics) ---
  std::size_t log_records() const { return log_.size(); }
  // True when this replica holds what every neighbour held a moment ago (a replica that just
  // joined has caught up with the cluster): from each neighbour, a digest whose context ours
  // includes has arrived, or a second digest has (the first one we sent it on joining was
  // answered, with catch-up deltas, before its next periodic digest: messages between two
  // replicas arrive in order). True with no neighbour.
  bool caught_up() const;
  // A fresh look at the neighbours: sends each a digest now (at the next tick, asking for
  // theirs) and returns a mark. caught_up_since(mark) is true when, from every neighbour, a
  // digest arrived after the mark and this replica holds every dot in it (but those of
  // replicas it forgot): it has all that neighbour had a moment ago. Unlike caught_up(), which
  // holds from the join on, this turns false again after a cut: a digest from before a
  // partition says nothing of the writes made on the other side meanwhile. (Whether a digest
  // answered one of ours says less: the answer may be to one sent before the mark, whose
  // catch-up a broken connection lost.) True with no neighbour.
  std::uint64_t refresh();
  bool caught_up_since(std::uint64_t mark) const;
  std::size_t inflight_bytes(ReplicaId id) const;
  std::size_t pending_flushes() const { return flushes_.size(); }
  std::size_t retired_pending() const { return retired_.size(); }
  void check_invariants() const;

 private:
  struct InFlight {
    std::uint64_t lo = 0;  // log indices [lo, hi)
    std::uint64_t hi = 0;
    std::size_t bytes = 0;
    std::uint64_t sent_ms = 0;
    bool lazy = false;  // as last sent
  };
  struct Neighbour {
    std::uint64_t cursor = 0;                     // next log index to send
    std::map<std::uint64_t, InFlight> in_flight;  // by seq; seq order is log order
    std::size_t inflight_bytes = 0;
    std::uint64_t hole_end = 0;      // records below this may never have been sent in a batch
    std::uint64_t insync_at = 0;     // log_end_ when a digest last matched our state exactly
    std::uint64_t hole_counter = 0;  // our own dot counter at hole_end
    std::uint64_t next_digest_ms = 0;
    std::uint64_t digest_serial = 0;  // serial of its last digest (0: none yet)
    std::uint64_t digests_received = 0;
    CausalContext peer_context;
    std::vector<ReplicaId> peer_live;
  };
  struct Flush {
    std::uint64_t target = 0;  // log_end_ at the call
    std::uint64_t deadline_ms = 0;
    std::vector<ReplicaId> waiting_on;
    bool had_neighbours = false;
    std::size_t confirmed = 0;  // neighbours that have it
  };

  std::uint64_t log_end() const { return log_base_ + log_.size(); }
  std::uint64_t acked_prefix(const Neighbour& n) const;
  bool delivered(const Neighbour& n, std::uint64_t target) const;
  void log_mutation(Mutation m);
  void resend(ReplicaId id, Neighbour& n, std::uint64_t seq, InFlight& f);
  void trim_log();
  void send_pushes(ReplicaId id, Neighbour& n, std::uint64_t now_ms);
  Delta build_batch(std::uint64_t lo, std::uint64_t* hi, std::size_t* bytes) const;
  Digest make_digest(bool want_digest) const;
  Result<Ok, SyncError> on_batch(ReplicaId from, PushBatch b, std::uint64_t now_ms);
  void on_ack(Neighbour& n, const PushAck& a);
  Result<Ok, SyncError> on_digest(ReplicaId from, Neighbour& n, Digest d);
  // Applies a delta; false when it was deferred (context full).
  Result<bool, SyncError> join(Delta d, std::uint64_t now_ms, AwlwwMap::JoinMode mode);
  void settle_flushes(std::uint64_t now_ms, bool expire);
  void try_compact();

  SyncOptions options_;
  AwlwwMap map_;
  std::deque<Mutation> log_;
  std::uint64_t log_base_ = 0;  // log index of log_.front()
  std::map<ReplicaId, Neighbour> neighbours_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t digest_serial_ = 0;
  std::map<ReplicaId, std::uint64_t> retired_;  // replica -> digest_serial_ at retirement
  std::map<FlushId, Flush> flushes_;
  FlushId next_flush_ = 1;
  std::vector<Outgoing> outbox_;
  std::vector<FlushDone> events_;
};

}  // namespace minotaur::crdt
