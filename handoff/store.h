// Store: this node's replica of the replicated state store — crdt::SyncReplica driven by Asio —
// where sessions stash their state so that it can be picked up on another node (the C++
// counterpart of the journal's StateHandoff on DeltaCrdt).
//
// Every accepted change of a session is stashed (put) here; the replica pushes it to every
// other member within one tick (kTickMs: the "replication interval" of --replication async) and
// re-sends until acknowledged. flush() completes when every peer has acknowledged everything
// stashed before the call — woken by the acknowledgement, never a fixed sleep; it is what
// --replication sync waits for before the client sees success, and what a draining node waits
// for before it leaves. pickup() reads what is here now.
//
// Peers are member incarnations: a restarted node is a new replica, and the old one is retired
// (its dots compacted away) when the membership says it is down.
//
// Values are last-writer-wins by hybrid logical clock; the ownership epoch inside each value
// (stash.h) is what fences a stale owner: sessions/ownership.h compares it before every change.
//
// Thread: the io_context's single thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

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

class Store final : public StashStore {
 public:
  static constexpr std::int64_t kTickMs = 5;

  using Send = std::function<bool(const std::string& peer_name, const std::string& bytes)>;

  Store(boost::asio::io_context& io, std::string self_name, std::uint64_t self_incarnation,
        Send send);
  ~Store();

  void start();
  void stop();

  void add_peer(const std::string& name, std::uint64_t incarnation);
  // A peer that left or died; `gone` retires its replica for good (it was not just cut off).
  void remove_peer(const std::string& name, std::uint64_t incarnation, bool gone);
  void on_message(const std::string& from_name, std::uint64_t from_incarnation,
                  std::string_view bytes);

  void stash(const std::string& key, std::string value) override;
  void remove(const std::string& key) override;
  std::optional<std::string> pickup(std::string_view key) const override;
  std::optional<std::uint64_t> stashed_epoch(std::string_view key) const override;
  std::vector<std::string> keys() const override;
  std::size_t size() const { return replica_.size(); }
  std::size_t peer_count() const override { return peers_.size(); }
  bool caught_up() const override { return replica_.caught_up(); }
  std::uint64_t refresh() override { return replica_.refresh(); }
  bool caught_up_since(std::uint64_t mark) const override { return replica_.caught_up_since(mark); }

  // True when every peer acknowledged everything stashed before the call; false on time-out.
  boost::asio::awaitable<bool> flush(std::int64_t timeout_ms);

  const StoreCounters& counters() const { return counters_; }

 private:
  void tick();
  void deliver();
  std::uint64_t now_ms() const;

  boost::asio::io_context& io_;
  std::string self_name_;
  crdt::SyncReplica replica_;
  Send send_;
  boost::asio::steady_timer timer_;
  std::map<crdt::ReplicaId, std::string> peers_;  // replica -> member name
  std::map<crdt::FlushId, std::pair<boost::asio::steady_timer*, bool*>> flushes_;
  StoreCounters counters_;
  bool stopped_ = false;
};

}  // namespace minotaur::handoff
