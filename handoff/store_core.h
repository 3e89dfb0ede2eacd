// StoreCore: this node's replica of the replicated state store without I/O — crdt::SyncReplica,
// the member incarnations it replicates with, and the StashStore the sessions stash into. Time
// comes from the clock it is given (the wall clock on a node: the replica's hybrid logical clock
// orders writes of different nodes; virtual time in the simulator); what it wants sent comes out
// of take_outbox() addressed by member name, and completed flushes come out of take_flushed(). The Asio store (store.h) and the simulator
// (sim/) drive this same code: the one carries the messages as bytes on the cluster's store
// channel, the other as values on its simulated network.
//
// Peers are member incarnations: a restarted node is a new replica, and the old one is retired
// (its dots compacted away) when the membership says it is gone. Messages from a replica that is
// no peer (yet, or any more) are dropped.
//
// Values are last-writer-wins by hybrid logical clock; the ownership epoch inside each value
// (stash.h) is what fences a stale owner: sessions/ownership.h compares it before every change.
//
// Thread: one owner calls every method.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "crdt/sync_replica.h"
#include "handoff/stash.h"

namespace minotaur::handoff {

// A member incarnation's replica id: stable_hash(name + "#" + incarnation).
crdt::ReplicaId replica_id(std::string_view name, std::uint64_t incarnation);

struct StoreCounters {
  std::uint64_t stashed = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t flushes = 0;
  std::uint64_t flush_timeouts = 0;
  std::uint64_t dropped = 0;  // malformed messages, or from a replica that is no peer
};

class StoreCore final : public StashStore {
 public:
  // How often the driver calls tick(): the "replication interval" of --replication async. The
  // replica pushes every change to every peer at its next tick and re-sends until acknowledged.
  static constexpr std::int64_t kTickMs = 5;

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
  // at once rather than at the next tick. An error when too many flushes wait.
  Result<crdt::FlushId, crdt::SyncError> flush(std::int64_t timeout_ms);

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
};

}  // namespace minotaur::handoff
