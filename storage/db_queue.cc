#include "storage/db_queue.h"

#include <algorithm>

#include "base/assert.h"

namespace minotaur::storage {

DbQueue::DbQueue(DbQueueLimits limits) : limits_(limits) {
  MINOTAUR_ASSERT(limits_.max_batch_keys > 0);
  MINOTAUR_ASSERT(limits_.first_backoff_ms > 0);
  MINOTAUR_ASSERT(limits_.max_backoff_ms >= limits_.first_backoff_ms);
}

void DbQueue::add(DbChange change, std::int64_t now_ms) {
  MINOTAUR_ASSERT(!change.key.empty());
  auto it = pending_.find(change.key);
  if (it != pending_.end()) {
    it->second.change = std::move(change);  // coalesced: the key keeps its age
    return;
  }
  order_.emplace(now_ms, change.key);
  std::string key = change.key;
  pending_.emplace(std::move(key), Pending{std::move(change), now_ms});
}

std::optional<DbBatch> DbQueue::take_batch(std::int64_t now_ms) {
  if (writing_seq_ != 0 || pending_.empty() || now_ms < retry_at_ms_) return std::nullopt;
  DbBatch batch;
  batch.seq = next_seq_++;
  while (!order_.empty() && batch.changes.size() < limits_.max_batch_keys) {
    auto it = pending_.find(order_.begin()->second);
    order_.erase(order_.begin());
    MINOTAUR_ASSERT(it != pending_.end());
    batch.changes.push_back(it->second.change);
    writing_.push_back(std::move(it->second));
    pending_.erase(it);
  }
  writing_seq_ = batch.seq;
  return batch;
}

void DbQueue::requeue(Pending p) {
  auto it = pending_.find(p.change.key);
  if (it != pending_.end()) {
    // A newer change of the key came while this one was being written: it stays, but as old
    // as the one that failed, which it carries.
    if (p.since_ms < it->second.since_ms) {
      order_.erase({it->second.since_ms, it->first});
      it->second.since_ms = p.since_ms;
      order_.emplace(p.since_ms, it->first);
    }
    return;
  }
  order_.emplace(p.since_ms, p.change.key);
  std::string key = p.change.key;
  pending_.emplace(std::move(key), std::move(p));
}

bool DbQueue::on_written(std::uint64_t seq, DbWriteResult result, std::int64_t now_ms) {
  MINOTAUR_ASSERT(seq != 0 && seq == writing_seq_);
  MINOTAUR_ASSERT(result.fenced <= writing_.size());
  writing_seq_ = 0;
  std::vector<Pending> written = std::move(writing_);
  writing_.clear();
  const bool was_failing = failing_;
  if (!result.ok) {
    ++counters_.write_errors;
    failing_ = true;
    backoff_ms_ = backoff_ms_ == 0 ? limits_.first_backoff_ms
                                   : std::min(backoff_ms_ * 2, limits_.max_backoff_ms);
    retry_at_ms_ = now_ms + backoff_ms_;
    for (Pending& p : written) requeue(std::move(p));
    check_invariants();
    return !was_failing;
  }
  failing_ = false;
  backoff_ms_ = 0;
  retry_at_ms_ = 0;
  ++counters_.batches_written;
  counters_.rows_written += written.size();
  counters_.fenced += result.fenced;
  check_invariants();
  return was_failing;
}

bool DbQueue::accepts_changes(std::int64_t now_ms) const {
  return queue_length() <= limits_.max_keys && oldest_unwritten_ms(now_ms) <= limits_.max_lag_ms;
}

std::int64_t DbQueue::oldest_unwritten_ms(std::int64_t now_ms) const {
  std::optional<std::int64_t> oldest;
  if (!order_.empty()) oldest = order_.begin()->first;
  for (const Pending& w : writing_) oldest = std::min(oldest.value_or(w.since_ms), w.since_ms);
  if (!oldest) return 0;
  return std::max<std::int64_t>(0, now_ms - *oldest);
}

void DbQueue::check_invariants() const {
  MINOTAUR_ASSERT(order_.size() == pending_.size());
  MINOTAUR_ASSERT((writing_seq_ == 0) == writing_.empty());
}

}  // namespace minotaur::storage
