#include "handoff/store_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/assert.h"
#include "base/stable_hash.h"

namespace minotaur::handoff {

crdt::ReplicaId replica_id(std::string_view name, std::uint64_t incarnation) {
  std::string s(name);
  s += "#" + std::to_string(incarnation);
  const crdt::ReplicaId id = stable_hash(s);
  return id == 0 ? 1 : id;  // 0 is not a replica id
}

namespace {
std::uint64_t as_replica_time(std::int64_t ms) {
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}
}  // namespace

StoreCore::StoreCore(std::string self_name, std::uint64_t self_incarnation, Clock clock)
    : self_name_(std::move(self_name)),
      replica_(replica_id(self_name_, self_incarnation)),
      clock_(std::move(clock)) {
  MINOTAUR_ASSERT(static_cast<bool>(clock_));
}

void StoreCore::add_peer(const std::string& name, std::uint64_t incarnation) {
  const crdt::ReplicaId id = replica_id(name, incarnation);
  if (peers_.count(id) != 0) return;
  if (auto r = replica_.add_neighbour(id, as_replica_time(clock_())); !r) {
    spdlog::error("store: cannot add {} as a peer: {}", name, crdt::to_string(r.error()));
    return;
  }
  peers_[id] = name;
}

void StoreCore::remove_peer(const std::string& name, std::uint64_t incarnation, bool gone) {
  const crdt::ReplicaId id = replica_id(name, incarnation);
  if (peers_.erase(id) == 0) return;
  replica_.remove_neighbour(id);
  if (gone) (void)replica_.retire_replica(id);
}

bool StoreCore::has_peer(const std::string& name, std::uint64_t incarnation) const {
  return peers_.count(replica_id(name, incarnation)) != 0;
}

bool StoreCore::receive(const std::string& from_name, std::uint64_t from_incarnation,
                        crdt::SyncMessage message) {
  const crdt::ReplicaId from = replica_id(from_name, from_incarnation);
  const auto* push = std::get_if<crdt::PushBatch>(&message);
  const bool prompt = push != nullptr && !push->lazy;
  if (peers_.count(from) == 0 ||
      !replica_.receive(from, std::move(message), as_replica_time(clock_()))) {
    ++counters_.dropped;
    return false;
  }
  ++counters_.messages_received;
  if (prompt) prompt_push_ = true;
  return true;
}

void StoreCore::tick() {
  replica_.tick(as_replica_time(clock_()));
}

Result<crdt::FlushId, crdt::SyncError> StoreCore::flush(std::int64_t timeout_ms, bool durable) {
  const std::int64_t now = clock_();
  auto id = replica_.flush(as_replica_time(now + timeout_ms));
  if (!id) return id;
  ++counters_.flushes;
  if (durable && has_disk_ && !unsafe_skip_disk_wait_) {
    const std::uint64_t needed = batch_holding_all();
    if (needed > committed_) durable_waits_[id.value()] = needed;
  }
  replica_.tick(as_replica_time(now));  // send what is pending now rather than at the next tick
  return id;
}

std::vector<StoreCore::Outgoing> StoreCore::take_outbox() {
  std::vector<Outgoing> out;
  while (!held_acks_.empty() && held_acks_.front().needed <= committed_) {
    if (peers_.count(held_acks_.front().to) != 0) {
      out.push_back(std::move(held_acks_.front().message));
    }
    held_acks_.pop_front();
  }
  for (crdt::Outgoing& o : replica_.take_outbox()) {
    auto it = peers_.find(o.to);
    if (it == peers_.end()) continue;
    Outgoing m{it->second, std::move(o.message)};
    // With a disk, "I hold your push" means "on my disk": the pusher's flush then promises
    // what a power cut of every node cannot take away. Digests are not held: their order with
    // the other messages is what tells a peer it caught up (crdt/sync_replica.h).
    if (has_disk_ && !unsafe_skip_disk_wait_ && std::holds_alternative<crdt::PushAck>(m.message)) {
      const std::uint64_t needed = batch_holding_all();
      if (needed > committed_) {
        if (prompt_push_) prompt_until_ = std::max(prompt_until_, needed);
        held_acks_.push_back(HeldAck{needed, o.to, std::move(m), clock_()});
        continue;
      }
    }
    out.push_back(std::move(m));
  }
  prompt_push_ = false;
  return out;
}

bool StoreCore::commit_wanted() const {
  if (!durable_waits_.empty() || prompt_until_ > committed_) return true;
  // Held in order of the batch they need: the front one is the oldest still waiting, if any is.
  return !held_acks_.empty() && held_acks_.front().needed > committed_ &&
         clock_() - held_acks_.front().held_ms >= kMaxAckHoldMs;
}

std::uint64_t StoreCore::batch_holding_all() const {
  const bool changed = replica_.has_changed_keys() || !retry_keys_.empty();
  return changed ? next_batch_ : (writing_ != 0 ? writing_ : committed_);
}

std::vector<crdt::FlushDone> StoreCore::take_flushed() {
  std::vector<crdt::FlushDone> out = std::move(released_);
  released_.clear();
  for (const crdt::FlushDone& f : replica_.take_events()) {
    if (!f.acked) ++counters_.flush_timeouts;
    const auto wait = durable_waits_.find(f.id);
    if (wait != durable_waits_.end() && f.acked && wait->second > committed_) {
      held_.push_back(f);  // at the peers, not yet on the disk
      continue;
    }
    if (wait != durable_waits_.end()) durable_waits_.erase(wait);
    out.push_back(f);
  }
  return out;
}

// ---- the disk ----------------------------------------------------------------------------------

void merge_rows(storage::Snapshot& snapshot, std::vector<storage::DbRow> rows,
                std::size_t* skipped) {
  crdt::CausalContext context = crdt::CausalContext::from_ranges(snapshot.context);
  std::map<std::string, std::size_t> at;  // key -> index in snapshot.entries
  for (std::size_t i = 0; i < snapshot.entries.size(); ++i) at[snapshot.entries[i].key] = i;
  const auto newer = [](const storage::StoredEntry& a, const storage::StoredEntry& b) {
    return std::pair(a.hlc, a.dot.replica) > std::pair(b.hlc, b.dot.replica);
  };
  for (storage::DbRow& row : rows) {
    const auto stashed = decode_stashed(row.entry.value);
    if (!stashed || stashed->epoch != row.epoch || !row.entry.dot.valid()) {
      ++*skipped;
      continue;
    }
    if (context.contains(row.entry.dot)) continue;
    const auto it = at.find(row.entry.key);
    if (it != at.end()) {
      storage::StoredEntry& held = snapshot.entries[it->second];
      if (!newer(row.entry, held)) continue;
      held = std::move(row.entry);
      context.add(held.dot);
      continue;
    }
    context.add(row.entry.dot);
    at[row.entry.key] = snapshot.entries.size();
    snapshot.entries.push_back(std::move(row.entry));
  }
  snapshot.context = context.ranges();
}

Result<Ok, std::string> StoreCore::load(storage::Snapshot snapshot, bool for_disk) {
  MINOTAUR_ASSERT(peers_.empty() && !has_disk_);
  crdt::Delta stored;
  stored.entries.reserve(snapshot.entries.size());
  for (storage::StoredEntry& e : snapshot.entries) {
    stored.entries.push_back(crdt::DeltaEntry{std::move(e.key), std::move(e.value), e.dot, e.hlc});
  }
  stored.context = std::move(snapshot.context);
  if (auto ok = replica_.load(std::move(stored), as_replica_time(clock_())); !ok) {
    return err(std::string("the stored state does not hold together: ") +
               crdt::to_string(ok.error()));
  }
  if (for_disk) {
    has_disk_ = true;
    replica_.track_changes(true);
  }
  return Ok{};
}

// ---- the database ------------------------------------------------------------------------------

void StoreCore::attach_database(storage::DbQueueLimits limits) {
  MINOTAUR_ASSERT(!database_);
  database_.emplace(limits);
}

void StoreCore::queue_for_database(const std::string& key) {
  const crdt::Entry* e = replica_.map().find(key);
  if (e == nullptr) return;
  const auto s = decode_stashed(e->value);
  if (!s) {
    spdlog::error("store: {} holds no stash; not written to the database", key);
    return;
  }
  database_->add(storage::DbChange{key, false, s->epoch, e->value, e->dot, e->hlc}, clock_());
}

std::optional<storage::DbBatch> StoreCore::take_db_batch() {
  if (!database_) return std::nullopt;
  return database_->take_batch(clock_());
}

bool StoreCore::on_db_written(std::uint64_t seq, storage::DbWriteResult result) {
  MINOTAUR_ASSERT(database_.has_value());
  return database_->on_written(seq, result, clock_());
}

bool StoreCore::storage_ok() const {
  return disk_ok_ && (!database_ || database_->accepts_changes(clock_()));
}

bool StoreCore::disk_behind() const {
  return writing_ != 0 || replica_.has_changed_keys() || !retry_keys_.empty();
}

std::optional<storage::Batch> StoreCore::take_batch() {
  if (!has_disk_ || writing_ != 0) return std::nullopt;
  std::vector<std::string> keys = replica_.take_changed_keys();
  if (!retry_keys_.empty()) {
    keys.insert(keys.end(), std::make_move_iterator(retry_keys_.begin()),
                std::make_move_iterator(retry_keys_.end()));
    retry_keys_.clear();
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  }
  if (keys.empty()) return std::nullopt;
  storage::Batch b;
  b.seq = next_batch_++;
  for (const std::string& key : keys) {
    if (const crdt::Entry* e = replica_.map().find(key)) {
      b.puts.push_back(storage::StoredEntry{key, e->value, e->dot, e->hlc});
    } else {
      b.removes.push_back(key);
    }
  }
  b.context = replica_.map().context().ranges();
  writing_ = b.seq;
  writing_keys_ = std::move(keys);
  return b;
}

void StoreCore::on_committed(std::uint64_t seq, bool ok) {
  MINOTAUR_ASSERT(seq != 0 && seq == writing_);
  writing_ = 0;
  std::vector<std::string> keys = std::move(writing_keys_);
  writing_keys_.clear();
  if (!ok) {
    // Its keys go into the next batch; durable flushes that waited for the disk fail, so the
    // changes they cover are not acknowledged.
    disk_ok_ = false;
    ++counters_.batch_failures;
    retry_keys_.insert(retry_keys_.end(), std::make_move_iterator(keys.begin()),
                       std::make_move_iterator(keys.end()));
    for (crdt::FlushDone f : held_) {
      durable_waits_.erase(f.id);
      f.acked = false;
      released_.push_back(f);
    }
    held_.clear();
    return;
  }
  disk_ok_ = true;
  committed_ = seq;
  ++counters_.batches_committed;
  counters_.keys_committed += keys.size();
  std::erase_if(held_, [&](const crdt::FlushDone& f) {
    const auto wait = durable_waits_.find(f.id);
    if (wait != durable_waits_.end() && wait->second > committed_) return false;
    if (wait != durable_waits_.end()) durable_waits_.erase(wait);
    released_.push_back(f);
    return true;
  });
}

void StoreCore::count_sent(std::size_t bytes) {
  ++counters_.messages_sent;
  counters_.bytes_sent += bytes;
}

void StoreCore::stash(const std::string& key, std::string value) {
  if (auto r = replica_.put(key, std::move(value), as_replica_time(clock_())); !r) {
    spdlog::error("store: cannot stash {}: {}", key, crdt::to_string(r.error()));
    return;
  }
  ++counters_.stashed;
  if (database_) queue_for_database(key);
}

void StoreCore::remove(const std::string& key) {
  if (database_) {
    if (const auto epoch = stashed_epoch(key)) {
      database_->add(storage::DbChange{key, true, *epoch, {}, {}, 0}, clock_());
    }
  }
  replica_.remove(key);
}

std::optional<std::string> StoreCore::pickup(std::string_view key) const {
  auto v = replica_.get(key);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<std::uint64_t> StoreCore::stashed_epoch(std::string_view key) const {
  auto v = replica_.get(key);
  if (!v) return std::nullopt;
  auto s = decode_stashed(*v);
  if (!s) return std::nullopt;
  return s->epoch;
}

std::vector<std::string> StoreCore::keys() const {
  std::vector<std::string> out;
  out.reserve(replica_.size());
  replica_.map().for_each([&](const auto& key, const auto&) { out.emplace_back(key); });
  return out;
}

}  // namespace minotaur::handoff
