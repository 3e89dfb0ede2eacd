// DbQueue: the changes this node owes the shared database (`minotaur node --database-url`),
// without I/O — what the writer thread (storage/pg_writer.h) writes next, and whether the node
// may still accept changes.
//
// The database keeps the latest state of every session, written by the node that stashes it (its
// owner). What is queued is per session key the latest change only (coalesced): a key changed
// ten times between two batches is written once, with its newest value. A batch is taken, written
// by the driver, and reported back (on_written); one batch at a time. A batch that failed (the
// database went away) puts its changes back, unless a newer change of the same key came since,
// and the next attempt waits a backoff that doubles from 100 ms to 5 s. Changes refused by the
// database's epoch fence (a newer owner wrote the row) are not errors: they are counted and
// dropped, for the row already holds a newer state.
//
// The bound: past `max_keys` unwritten keys, or once the oldest unwritten change is older than
// `max_lag_ms`, accepts_changes() is false and the node refuses changes (503
// storage_unavailable, as for a data dir that failed) rather than acknowledge a change the
// database may never get. "The oldest unwritten change" of a key is the first change queued
// since the key was last written: coalescing never makes a key look younger than it is.
//
// Weakness: the queue holds values already in the replica (a copy per unwritten key); the bound
// on keys bounds that memory.
//
// Thread: one owner calls every method (the node's loop). Time is passed in (milliseconds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crdt/dot.h"

namespace minotaur::storage {

// One row's worth of change: the session's stashed value with the replica's dot and stamp of the
// write (so that a cold start can load it as the replica held it), and its ownership epoch (the
// database's fence). `remove`: the session ended for good; the row goes, unless a newer owner
// wrote it.
struct DbChange {
  std::string key;
  bool remove = false;
  std::uint64_t epoch = 0;
  std::string value;  // empty for a removal
  crdt::Dot dot;      // {0, 0} for a removal
  std::uint64_t hlc = 0;
  friend bool operator==(const DbChange&, const DbChange&) = default;
};

struct DbBatch {
  std::uint64_t seq = 0;  // 1, 2, ... per queue
  std::vector<DbChange> changes;
};

// What the driver reports of a batch.
struct DbWriteResult {
  bool ok = false;         // the transaction committed
  std::size_t fenced = 0;  // rows the epoch fence kept (a newer owner's state was there)
};

struct DbQueueLimits {
  std::size_t max_keys = 100'000;
  std::int64_t max_lag_ms = 30'000;
  std::size_t max_batch_keys = 512;
  std::int64_t first_backoff_ms = 100;
  std::int64_t max_backoff_ms = 5'000;
};

struct DbQueueCounters {
  std::uint64_t batches_written = 0;
  std::uint64_t rows_written = 0;  // changes in committed batches, fenced ones included
  std::uint64_t fenced = 0;
  std::uint64_t write_errors = 0;  // batches that failed
};

class DbQueue {
 public:
  explicit DbQueue(DbQueueLimits limits = {});

  // ---- inputs ----
  void add(DbChange change, std::int64_t now_ms);
  // The next batch to write: nullopt while one is being written, during a backoff, or when
  // nothing is queued.
  std::optional<DbBatch> take_batch(std::int64_t now_ms);
  // The batch taken last was written (or not). Returns true when this result changed whether
  // the database is failing (the driver logs once per episode: failing() says which way).
  bool on_written(std::uint64_t seq, DbWriteResult result, std::int64_t now_ms);

  // ---- reads ----
  // Within the bound: the node may accept changes.
  bool accepts_changes(std::int64_t now_ms) const;
  // Keys not yet in the database: queued and being written.
  std::size_t queue_length() const { return pending_.size() + writing_.size(); }
  // Milliseconds since the oldest unwritten change was queued (0 when none).
  std::int64_t oldest_unwritten_ms(std::int64_t now_ms) const;
  bool writing() const { return writing_seq_ != 0; }
  // The last batch failed and none has been written since.
  bool failing() const { return failing_; }
  // When the next batch may be taken after a failure (0: at once).
  std::int64_t retry_at_ms() const { return retry_at_ms_; }
  const DbQueueCounters& counters() const { return counters_; }
  const DbQueueLimits& limits() const { return limits_; }

  void check_invariants() const;

 private:
  struct Pending {
    DbChange change;
    std::int64_t since_ms = 0;  // the first change queued since the key was last written
  };
  void requeue(Pending p);

  DbQueueLimits limits_;
  std::unordered_map<std::string, Pending> pending_;
  std::set<std::pair<std::int64_t, std::string>> order_;  // (since_ms, key) of every pending key
  std::uint64_t next_seq_ = 1;
  std::uint64_t writing_seq_ = 0;
  std::vector<Pending> writing_;  // what the batch being written carries
  bool failing_ = false;
  std::int64_t backoff_ms_ = 0;
  std::int64_t retry_at_ms_ = 0;
  DbQueueCounters counters_;
};

}  // namespace minotaur::storage
