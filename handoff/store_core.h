// StoreCore: this node's replica of the replicated state store without I/O — crdt::SyncReplica,
// the member incarnations it replicates with, and the StashStore the sessions stash into. Time
// comes from the clock it is given (the wall clock on a node: the replica's hybrid logical clock
// orders writes of different nodes; virtual time in the simulator); what it wants sent comes out
// of take_outbox() addressed by member name, and completed flushes come out of take_flushed(). The
// Asio store (store.h) and the simulator (sim/) drive this same code: the one carries the messages
// as bytes on the cluster's store channel, the other as values on its simulated network.
//
// Peers are member incarnations: a restarted node is a new replica, and the old one is retired
// (its dots compacted away) when the membership says it is gone. Messages from a replica that is
// no peer (yet, or any more) are dropped.
//
// Values are last-writer-wins by hybrid logical clock; the ownership epoch inside each value
// (stash.h) is what fences a stale owner: sessions/ownership.h compares it before every change.
//
// Durability (storage/data_dir.h): with a data dir, the replica starts from what the disk holds
// (load) and every key that changes is rewritten there in the next batch (take_batch, one at a
// time, group commit: the driver commits every commit interval, or at once when a durable flush
// waits). A durable flush completes only once its writes are on the disk as well as at the
// peers, and a peer acknowledges a push only once what it brought is on its own disk: so what a
// flush says the peers hold survives a power cut of every node, whichever comes back first.
// Such a held acknowledgement makes the driver commit at once only when the push was not lazy
// (a flush of the pusher waits for it): the steady stream of pushes that nobody waits for is
// written at the commit interval, coalesced, rather than in a batch after every push.
// A batch that could not be written (disk full or failing) leaves its keys to the next
// one, and until one is written the store is not writable (disk_ok): the node refuses changes
// rather than acknowledge what it cannot keep.
//
// The shared database (storage/pg_database.h), with attach_database: every change this node
// stashes (it owns the session) and every removal is queued for the database too
// (storage/db_queue.h: coalesced per key, batched, bounded), with the dot and stamp the replica
// gave the write, so that a cold start loads the rows the way it loads a data dir. Writes that
// arrive from peers are not queued: the node that stashed them writes them. Past the queue's
// bound the store is not writable either (storage_ok).
//
// Thread: one owner calls every method.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crdt/sync_replica.h"
#include "handoff/stash.h"
#include "storage/data_dir.h"
#include "storage/db_queue.h"
#include "storage/pg_database.h"

namespace minotaur::handoff {

// A member incarnation's replica id: stable_hash(name + "#" + incarnation).
crdt::ReplicaId replica_id(std::string_view name, std::uint64_t incarnation);

// Adds the database's rows to a snapshot (empty without a data dir) for StoreCore::load. A row
// whose value is no stash (decode_stashed) or whose epoch column differs from its value's is
// skipped and counted in `skipped` (rows are outside input). A row whose write the snapshot has
// seen (its dot is in the snapshot's context) is left out: the data dir holds that write or a
// newer state of the key. Otherwise the row's entry and its dot join the snapshot, the newer by
// stamp winning where both hold the key; the context grows by exactly the dots added, so that
// the loaded state claims to have seen no write it does not carry.
void merge_rows(storage::Snapshot& snapshot, std::vector<storage::DbRow> rows,
                std::size_t* skipped);

struct StoreCounters {
  std::uint64_t stashed = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t flushes = 0;
  std::uint64_t flush_timeouts = 0;
  std::uint64_t dropped = 0;            // malformed messages, or from a replica that is no peer
  std::uint64_t batches_committed = 0;  // to the data dir
  std::uint64_t batch_failures = 0;     // batches the data dir could not write
  std::uint64_t keys_committed = 0;     // key writes and removals in committed batches
};

class StoreCore final : public StashStore {
 public:
  // How often the driver calls tick(): the "replication interval" of --replication async. The
  // replica pushes every change to every peer at its next tick and re-sends until acknowledged.
  static constexpr std::int64_t kTickMs = 5;
  // With a data dir: how often the driver writes a batch (--commit-interval-ms's default).
  static constexpr std::int64_t kCommitIntervalMs = 100;
  // The longest a peer's acknowledgement waits for the disk: well under the peers' re-send
  // interval (crdt::SyncOptions::resend_after_ms), so that a long commit interval does not make
  // them re-send what they pushed.
  static constexpr std::int64_t kMaxAckHoldMs = 100;

  struct Outgoing {
    std::string to;  // member name
    crdt::SyncMessage message;
  };

  using Clock = std::function<std::int64_t()>;  // milliseconds

  StoreCore(std::string self_name, std::uint64_t self_incarnation, Clock clock);

  // ---- inputs ----
  void add_peer(const std::string& name, std::uint64_t incarnation);
  // A peer that left or died; `gone` retires its replica for good (it was not just cut off).
  // Flushes that waited only for it complete.
  void remove_peer(const std::string& name, std::uint64_t incarnation, bool gone);
  // False (counted as dropped) when the sender is no peer or the message does not apply.
  bool receive(const std::string& from_name, std::uint64_t from_incarnation,
               crdt::SyncMessage message);
  void tick();
  // Completes (take_flushed) when every peer at the time of the call has everything stashed
  // before it, or with acked = false once `timeout_ms` passed. The pending messages are queued
  // at once rather than at the next tick. An error when too many flushes wait. `durable`, with
  // a data dir: acked also needs everything stashed before the call written to the disk.
  Result<crdt::FlushId, crdt::SyncError> flush(std::int64_t timeout_ms, bool durable = false);

  // ---- the disk ----
  // Starts the replica from a data dir's snapshot (and the database's rows, merge_rows), before
  // any peer, and, `for_disk`, tracks changes for the disk from now on. An error (nothing
  // changed) for a snapshot that does not hold together.
  Result<Ok, std::string> load(storage::Snapshot snapshot, bool for_disk = true);
  bool has_disk() const { return has_disk_; }
  // What changed since the last batch, when something did and no batch is being written.
  std::optional<storage::Batch> take_batch();
  // The driver wrote batch `seq` (ok) or could not (its keys go into the next batch).
  void on_committed(std::uint64_t seq, bool ok);
  // No batch failed since the last one written: changes may be accepted.
  bool disk_ok() const { return disk_ok_; }
  // The driver should commit now, not at the next interval: a durable flush waits for the
  // disk, or a peer's flush waits for an acknowledgement held for the disk (its push was not
  // lazy), or an acknowledgement has been held kMaxAckHoldMs (when the interval is long).
  bool commit_wanted() const;
  // Something changed since the last batch written, or a batch is being written.
  bool disk_behind() const;
  // BROKEN ON PURPOSE, for the simulator's self-test only: a durable flush does not wait for
  // the disk (a sync write acknowledged once the peers hold it, before it is on the disk).
  void set_unsafe_skip_disk_wait(bool on) { unsafe_skip_disk_wait_ = on; }

  // ---- the database ----
  // From now on every stash and removal of this node is queued for the database.
  void attach_database(storage::DbQueueLimits limits);
  bool has_database() const { return database_.has_value(); }
  // The next batch for the database (DbQueue::take_batch at the store's clock), and its result.
  std::optional<storage::DbBatch> take_db_batch();
  // True when the database started or stopped failing (log it once per episode).
  bool on_db_written(std::uint64_t seq, storage::DbWriteResult result);
  const storage::DbQueue* database() const { return database_ ? &*database_ : nullptr; }
  std::int64_t db_lag_ms() const {
    return database_ ? database_->oldest_unwritten_ms(clock_()) : 0;
  }
  // Changes may be accepted: the data dir's last batch was written and the database's queue is
  // within its bound. What the sessions' node core asks before every change.
  bool storage_ok() const;

  // ---- outputs ----
  std::vector<Outgoing> take_outbox();
  std::vector<crdt::FlushDone> take_flushed();

  // ---- StashStore: what the sessions stash and pick up ----
  void stash(const std::string& key, std::string value) override;
  void remove(const std::string& key) override;
  std::optional<std::string> pickup(std::string_view key) const override;
  std::optional<std::uint64_t> stashed_epoch(std::string_view key) const override;
  std::vector<std::string> keys() const override;
  std::size_t peer_count() const override { return peers_.size(); }
  bool caught_up() const override { return replica_.caught_up(); }
  std::uint64_t refresh() override { return replica_.refresh(); }
  bool caught_up_since(std::uint64_t mark) const override { return replica_.caught_up_since(mark); }

  // ---- reads ----
  std::size_t size() const { return replica_.size(); }
  bool has_peer(const std::string& name, std::uint64_t incarnation) const;
  const crdt::SyncReplica& replica() const { return replica_; }
  const StoreCounters& counters() const { return counters_; }
  // The driver counts what it sent and how many bytes, and what it could not decode (only it
  // knows the encoding).
  void count_sent(std::size_t bytes);
  void count_dropped() { ++counters_.dropped; }

 private:
  std::string self_name_;
  crdt::SyncReplica replica_;
  std::map<crdt::ReplicaId, std::string> peers_;  // replica -> member name
  Clock clock_;
  StoreCounters counters_;
  // The disk.
  bool has_disk_ = false;
  bool disk_ok_ = true;
  bool unsafe_skip_disk_wait_ = false;
  std::uint64_t next_batch_ = 1;           // the seq of the next batch
  std::uint64_t committed_ = 0;            // every batch up to this one is on the disk
  std::uint64_t writing_ = 0;              // the batch being written (0: none)
  std::vector<std::string> writing_keys_;  // its keys, for the next batch should it fail
  std::vector<std::string> retry_keys_;
  // Durable flushes the peers completed, held until the disk has batch `seq`: flush -> seq.
  std::map<crdt::FlushId, std::uint64_t> durable_waits_;
  std::vector<crdt::FlushDone> held_;  // completed by the peers, waiting for the disk
  std::vector<crdt::FlushDone> released_;
  // Acknowledgements of peers' pushes, held until the disk has batch `needed`; in order of
  // `needed`, which never goes down.
  struct HeldAck {
    std::uint64_t needed = 0;
    crdt::ReplicaId to = 0;
    Outgoing message;
    std::int64_t held_ms = 0;
  };
  std::deque<HeldAck> held_acks_;
  // A push that was not lazy arrived since the last take_outbox (its acknowledgement is held in
  // it), and the batch that must be written before the last such acknowledgement goes out.
  bool prompt_push_ = false;
  std::uint64_t prompt_until_ = 0;
  // The database.
  std::optional<storage::DbQueue> database_;
  void queue_for_database(const std::string& key);
  // The batch that will hold every change made so far: the next one if anything changed since
  // the last was taken, else the one being written (or the last one written).
  std::uint64_t batch_holding_all() const;
};

}  // namespace minotaur::handoff
