#include "crdt/sync_replica.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/assert.h"

namespace minotaur::crdt {
namespace {

SyncError from_map_error(MapError e) {
  switch (e) {
    case MapError::kKeyTooLong:
      return SyncError::kKeyTooLong;
    case MapError::kValueTooLarge:
      return SyncError::kValueTooLarge;
    case MapError::kMalformedDelta:
    case MapError::kContextFull:
      break;
  }
  return SyncError::kMalformedMessage;
}

}  // namespace

const char* to_string(SyncError e) {
  switch (e) {
    case SyncError::kUnknownNeighbour:
      return "unknown neighbour";
    case SyncError::kInvalidNeighbour:
      return "invalid neighbour";
    case SyncError::kTooManyNeighbours:
      return "too many neighbours";
    case SyncError::kTooManyRetired:
      return "too many retired replicas pending";
    case SyncError::kTooManyFlushes:
      return "too many pending flushes";
    case SyncError::kKeyTooLong:
      return "key too long";
    case SyncError::kValueTooLarge:
      return "value too large";
    case SyncError::kMalformedMessage:
      return "malformed message";
  }
  return "unknown sync error";
}

SyncReplica::SyncReplica(ReplicaId self, SyncOptions options)
    : options_(options), map_(self, options.map) {
  MINOTAUR_ASSERT(options_.max_batch_bytes > 0);
  MINOTAUR_ASSERT(options_.max_log_records >= 2);
}

// --- writes ---

Result<Ok, SyncError> SyncReplica::put(std::string key, std::string value, std::uint64_t now_ms) {
  auto m = map_.put(std::move(key), std::move(value), now_ms);
  if (!m) return err(from_map_error(m.error()));
  log_mutation(std::move(m).value());
  check_invariants();
  return Ok{};
}

void SyncReplica::remove(std::string_view key) {
  if (auto m = map_.remove(key)) log_mutation(std::move(*m));
  check_invariants();
}

void SyncReplica::reset_all() {
  for (Mutation& m : map_.reset_all()) log_mutation(std::move(m));
  check_invariants();
}

void SyncReplica::log_mutation(Mutation m) {
  log_.push_back(std::move(m));
  if (neighbours_.empty()) {
    trim_log();
    return;
  }
  if (log_.size() <= options_.max_log_records) return;
  // Overflow: the neighbours furthest behind stop getting these records in batches; anti-entropy
  // brings them up to date and their flushes wait for an in-sync digest (hole_end).
  const std::uint64_t keep_from = log_end() - options_.max_log_records / 2;
  for (auto& [id, n] : neighbours_) {
    if (acked_prefix(n) >= keep_from) continue;
    n.in_flight.clear();
    n.inflight_bytes = 0;
    n.cursor = log_end();
    n.hole_end = log_end();
    n.hole_counter = map_.context().max_counter(self());
  }
  trim_log();
  MINOTAUR_ASSERT(log_.size() <= options_.max_log_records);
}

std::uint64_t SyncReplica::acked_prefix(const Neighbour& n) const {
  return n.in_flight.empty() ? n.cursor : n.in_flight.begin()->second.lo;
}

bool SyncReplica::delivered(const Neighbour& n, std::uint64_t target) const {
  return acked_prefix(n) >= target && n.insync_at >= std::min(target, n.hole_end);
}

void SyncReplica::trim_log() {
  std::uint64_t keep = log_end();
  for (const auto& [id, n] : neighbours_) keep = std::min(keep, acked_prefix(n));
  while (log_base_ < keep) {
    log_.pop_front();
    ++log_base_;
  }
}

// --- membership ---

Result<Ok, SyncError> SyncReplica::add_neighbour(ReplicaId id, std::uint64_t now_ms) {
  if (id == 0 || id == self()) return err(SyncError::kInvalidNeighbour);
  if (neighbours_.contains(id)) return Ok{};
  if (neighbours_.size() >= options_.max_neighbours) return err(SyncError::kTooManyNeighbours);
  Neighbour n;
  n.cursor = log_end();
  n.hole_end = log_end();  // everything written before it joined comes by anti-entropy
  n.hole_counter = map_.context().max_counter(self());
  n.next_digest_ms = now_ms;
  neighbours_.emplace(id, std::move(n));
  retired_.erase(id);
  check_invariants();
  return Ok{};
}

void SyncReplica::remove_neighbour(ReplicaId id) {
  if (neighbours_.erase(id) == 0) return;
  trim_log();
  settle_flushes(0, false);
  check_invariants();
}

Result<Ok, SyncError> SyncReplica::retire_replica(ReplicaId id) {
  if (id == 0 || id == self() || neighbours_.contains(id)) {
    return err(SyncError::kInvalidNeighbour);
  }
  if (retired_.contains(id)) return Ok{};
  if (retired_.size() >= options_.max_retired) return err(SyncError::kTooManyRetired);
  retired_.emplace(id, digest_serial_);
  return Ok{};
}

// --- protocol ---

Result<Ok, SyncError> SyncReplica::receive(ReplicaId from, SyncMessage message,
                                           std::uint64_t now_ms) {
  const auto it = neighbours_.find(from);
  if (it == neighbours_.end()) return err(SyncError::kUnknownNeighbour);
  Neighbour& n = it->second;
  Result<Ok, SyncError> result = Ok{};
  if (auto* b = std::get_if<PushBatch>(&message)) {
    result = on_batch(from, std::move(*b), now_ms);
  } else if (auto* a = std::get_if<PushAck>(&message)) {
    on_ack(n, *a);
  } else if (auto* d = std::get_if<Digest>(&message)) {
    result = on_digest(from, n, std::move(*d));
  } else if (auto* c = std::get_if<CatchUp>(&message)) {
    const bool more = c->more;
    auto applied = join(std::move(c->delta), now_ms, AwlwwMap::JoinMode::kSync);
    if (!applied) {
      result = err(applied.error());
    } else if (more) {
      outbox_.push_back(Outgoing{from, make_digest(false)});
    }
  } else {
    auto applied = map_.apply_listing(std::get<Listing>(message));
    if (!applied) result = err(SyncError::kMalformedMessage);
  }
  check_invariants();
  return result;
}

Result<Ok, SyncError> SyncReplica::load(Delta stored, std::uint64_t now_ms) {
  MINOTAUR_ASSERT(neighbours_.empty());
  auto joined = map_.join(std::move(stored), now_ms, nullptr, AwlwwMap::JoinMode::kLattice);
  if (!joined) return err(from_map_error(joined.error()));
  map_.check_invariants();
  return Ok{};
}

Result<bool, SyncError> SyncReplica::join(Delta d, std::uint64_t now_ms, AwlwwMap::JoinMode mode) {
  auto joined = map_.join(std::move(d), now_ms, nullptr, mode);
  if (!joined) {
    // A full context is an operating condition, not a fault: the delta is dropped (a batch is
    // not acknowledged) and comes again once re-sends have filled the gaps.
    if (joined.error() == MapError::kContextFull) return false;
    return err(from_map_error(joined.error()));
  }
  return true;
}

Result<Ok, SyncError> SyncReplica::on_batch(ReplicaId from, PushBatch b, std::uint64_t now_ms) {
  auto applied = join(std::move(b.delta), now_ms, AwlwwMap::JoinMode::kSync);
  if (!applied) return err(applied.error());
  if (applied.value()) outbox_.push_back(Outgoing{from, PushAck{b.seq}});
  return Ok{};
}

void SyncReplica::on_ack(Neighbour& n, const PushAck& a) {
  const auto it = n.in_flight.find(a.seq);
  if (it == n.in_flight.end()) return;  // a duplicate, or from before a skip
  n.inflight_bytes -= it->second.bytes;
  n.in_flight.erase(it);
  trim_log();
  settle_flushes(0, false);
}

Result<Ok, SyncError> SyncReplica::on_digest(ReplicaId from, Neighbour& n, Digest d) {
  for (const DotRange& r : d.context) {
    if (!valid_range(r)) return err(SyncError::kMalformedMessage);
  }
  if (!d.bucket_hashes.empty() && d.bucket_hashes.size() != kBuckets) {
    return err(SyncError::kMalformedMessage);
  }
  n.peer_context = CausalContext::from_ranges(d.context);
  n.peer_live = std::move(d.live_replicas);
  std::sort(n.peer_live.begin(), n.peer_live.end());
  n.digest_serial = ++digest_serial_;
  ++n.digests_received;
  // Every write of ours from before the hole is in its context: it has them (later ones are
  // tracked by push acknowledgements). Under steady writes an exactly matching digest may be
  // long in coming; this is what a flush needs.
  if (n.insync_at < n.hole_end &&
      (n.hole_counter == 0 || n.peer_context.covers(DotRange{self(), 1, n.hole_counter}))) {
    n.insync_at = n.hole_end;
    settle_flushes(0, false);
  }

  // Our own writes still in its push pipeline (sent and unacknowledged, or not sent yet) are on
  // their way: leave them out of the catch-up, or a busy writer would send everything twice.
  CausalContext lacks = n.peer_context;
  const std::uint64_t own_max = map_.context().max_counter(self());
  for (std::uint64_t i = acked_prefix(n); i < log_end(); ++i) {
    const Dot added = log_[i - log_base_].added;
    if (added.valid()) {
      lacks.add(DotRange{self(), added.counter, std::max(added.counter, own_max)});
      break;
    }
  }
  bool more = false;
  std::vector<Delta> chunks =
      map_.catch_up(lacks, options_.max_batch_bytes, options_.max_catch_up_bytes, &more);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const bool last = i + 1 == chunks.size();
    outbox_.push_back(Outgoing{from, CatchUp{std::move(chunks[i]), more && last}});
  }
  // Listings only between equal contexts: while either side has writes the other lacks, the
  // hashes differ for that reason alone, and pushes or catch-up settle it more cheaply.
  if (chunks.empty() && !d.bucket_hashes.empty() && map_.context().includes(n.peer_context)) {
    std::vector<std::uint32_t> differ;
    const auto& ours = map_.bucket_hashes();
    for (std::uint32_t b = 0; b < kBuckets; ++b) {
      if (ours[b] != d.bucket_hashes[b]) differ.push_back(b);
    }
    if (!differ.empty()) {
      outbox_.push_back(Outgoing{from, map_.listing(differ, options_.max_listing_bytes)});
    } else {
      // Its context covers ours and its live entries hash the same: it has all we have.
      n.insync_at = log_end();
      settle_flushes(0, false);
    }
  }
  if (d.want_digest) outbox_.push_back(Outgoing{from, make_digest(false)});
  return Ok{};
}

Digest SyncReplica::make_digest(bool want_digest) const {
  Digest d;
  d.context = map_.context().ranges();
  d.bucket_hashes.assign(map_.bucket_hashes().begin(), map_.bucket_hashes().end());
  d.live_replicas = map_.live_replicas();
  d.want_digest = want_digest;
  return d;
}

Delta SyncReplica::build_batch(std::uint64_t lo, std::uint64_t* hi, std::size_t* bytes) const {
  MINOTAUR_ASSERT(lo >= log_base_ && lo < *hi && *hi <= log_end());
  DeltaBuilder b;
  std::uint64_t i = lo;
  while (i < *hi && b.bytes() < options_.max_batch_bytes) {
    map_.append_delta(log_[i - log_base_], b);
    ++i;
  }
  *hi = i;
  *bytes = b.bytes();
  return b.finish();
}

void SyncReplica::send_pushes(ReplicaId id, Neighbour& n, std::uint64_t now_ms) {
  for (auto& [seq, f] : n.in_flight) {
    if (now_ms < f.sent_ms + options_.resend_after_ms) continue;
    f.sent_ms = now_ms;
    resend(id, n, seq, f);
  }
  while (n.cursor < log_end() && n.inflight_bytes < options_.max_inflight_bytes) {
    std::uint64_t hi = log_end();
    std::size_t bytes = 0;
    Delta delta = build_batch(n.cursor, &hi, &bytes);
    const std::uint64_t seq = next_seq_++;
    const bool lazy = flushes_.empty();
    n.in_flight.emplace(seq, InFlight{n.cursor, hi, bytes, now_ms, lazy});
    n.inflight_bytes += bytes;
    n.cursor = hi;
    outbox_.push_back(Outgoing{id, PushBatch{seq, std::move(delta), lazy}});
  }
}

void SyncReplica::resend(ReplicaId id, Neighbour& n, std::uint64_t seq, InFlight& f) {
  // Rebuilt from the current state: a write overwritten since goes as a tombstone.
  DeltaBuilder b;
  for (std::uint64_t i = f.lo; i < f.hi; ++i) map_.append_delta(log_[i - log_base_], b);
  n.inflight_bytes = n.inflight_bytes - f.bytes + b.bytes();
  f.bytes = b.bytes();
  f.lazy = flushes_.empty();
  outbox_.push_back(Outgoing{id, PushBatch{seq, b.finish(), f.lazy}});
}

void SyncReplica::tick(std::uint64_t now_ms) {
  for (auto& [id, n] : neighbours_) {
    send_pushes(id, n, now_ms);
    if (now_ms >= n.next_digest_ms) {
      outbox_.push_back(Outgoing{id, make_digest(true)});
      n.next_digest_ms = now_ms + options_.anti_entropy_interval_ms;
    }
  }
  settle_flushes(now_ms, true);
  try_compact();
  check_invariants();
}

std::vector<Outgoing> SyncReplica::take_outbox() {
  return std::exchange(outbox_, {});
}
std::vector<FlushDone> SyncReplica::take_events() {
  return std::exchange(events_, {});
}

// --- waiting ---

bool SyncReplica::caught_up() const {
  for (const auto& [id, n] : neighbours_) {
    if (n.digest_serial == 0) return false;
    if (n.digests_received < 2 && !map_.context().includes(n.peer_context)) return false;
  }
  return true;
}

std::uint64_t SyncReplica::refresh() {
  for (auto& [id, n] : neighbours_) n.next_digest_ms = 0;
  return digest_serial_;
}

bool SyncReplica::caught_up_since(std::uint64_t mark) const {
  for (const auto& [id, n] : neighbours_) {
    if (n.digest_serial <= mark) return false;
    for (const DotRange& r : n.peer_context.ranges()) {
      // Dots of a replica we forgot (gone for good, compacted here) never come back.
      if (!map_.forgotten(r.replica) && !map_.context().covers(r)) return false;
    }
  }
  return true;
}

Result<FlushId, SyncError> SyncReplica::flush(std::uint64_t deadline_ms) {
  if (flushes_.size() >= options_.max_flushes) return err(SyncError::kTooManyFlushes);
  const FlushId id = next_flush_++;
  Flush f;
  f.target = log_end();
  f.deadline_ms = deadline_ms;
  for (const auto& [nid, n] : neighbours_) f.waiting_on.push_back(nid);
  f.had_neighbours = !f.waiting_on.empty();
  flushes_.emplace(id, std::move(f));
  settle_flushes(0, false);
  if (flushes_.contains(id)) {
    // The flush now waits for batches that went out lazy: a receiver may be holding their
    // acknowledgements until its next commit. The newest goes again, not lazy, which makes it
    // commit (and acknowledge everything it holds) now. Its re-send timer runs on unchanged.
    for (auto& [nid, n] : neighbours_) {
      if (n.in_flight.empty()) continue;
      auto& [seq, last] = *n.in_flight.rbegin();
      if (last.lazy) resend(nid, n, seq, last);
    }
  }
  return id;
}

void SyncReplica::settle_flushes(std::uint64_t now_ms, bool expire) {
  for (auto it = flushes_.begin(); it != flushes_.end();) {
    Flush& f = it->second;
    std::erase_if(f.waiting_on, [&](ReplicaId id) {
      const auto n = neighbours_.find(id);
      if (n == neighbours_.end()) return true;  // gone: no acknowledgement
      if (!delivered(n->second, f.target)) return false;
      ++f.confirmed;
      return true;
    });
    if (f.waiting_on.empty()) {
      events_.push_back(FlushDone{it->first, !f.had_neighbours || f.confirmed > 0});
      it = flushes_.erase(it);
    } else if (expire && now_ms >= f.deadline_ms) {
      events_.push_back(FlushDone{it->first, false});
      it = flushes_.erase(it);
    } else {
      ++it;
    }
  }
}

// --- compaction ---

void SyncReplica::try_compact() {
  for (auto it = retired_.begin(); it != retired_.end();) {
    const ReplicaId r = it->first;
    bool safe = map_.live_count(r) == 0;
    const std::vector<DotRange> ours = map_.context().ranges_of(r);
    for (const auto& entry : neighbours_) {
      if (!safe) break;
      const Neighbour& n = entry.second;  // a name, not a structured binding: clang 14 cannot
                                          // capture those in the lambda below
      safe = n.digest_serial > it->second &&
             !std::binary_search(n.peer_live.begin(), n.peer_live.end(), r) &&
             (!n.peer_context.knows(r) ||
              std::all_of(ours.begin(), ours.end(),
                          [&](const DotRange& d) { return n.peer_context.covers(d); }));
    }
    if (safe && map_.forget_replica(r)) {
      it = retired_.erase(it);
    } else {
      ++it;
    }
  }
}

// --- introspection ---

std::size_t SyncReplica::inflight_bytes(ReplicaId id) const {
  const auto it = neighbours_.find(id);
  return it == neighbours_.end() ? 0 : it->second.inflight_bytes;
}

void SyncReplica::check_invariants() const {
  MINOTAUR_ASSERT(log_.size() <= options_.max_log_records);
  MINOTAUR_ASSERT(neighbours_.size() <= options_.max_neighbours);
  MINOTAUR_ASSERT(retired_.size() <= options_.max_retired);
  MINOTAUR_ASSERT(flushes_.size() <= options_.max_flushes);
  for (const auto& [id, n] : neighbours_) {
    MINOTAUR_ASSERT(n.cursor >= log_base_ && n.cursor <= log_end());
    MINOTAUR_ASSERT(acked_prefix(n) >= log_base_);
    std::size_t bytes = 0;
    std::uint64_t prev_hi = 0;
    for (const auto& [seq, f] : n.in_flight) {
      MINOTAUR_ASSERT(seq < next_seq_);
      MINOTAUR_ASSERT(f.lo < f.hi && f.hi <= n.cursor && f.lo >= prev_hi);
      prev_hi = f.hi;
      bytes += f.bytes;
    }
    MINOTAUR_ASSERT(bytes == n.inflight_bytes);
    // The window may be overshot by one batch, which may be overshot by one record.
    MINOTAUR_ASSERT(n.inflight_bytes <= options_.max_inflight_bytes + options_.max_batch_bytes +
                                            2 * options_.map.max_key_bytes +
                                            options_.map.max_value_bytes + 2 * kEntryOverheadBytes +
                                            kDotBytes);
  }
}

}  // namespace minotaur::crdt
