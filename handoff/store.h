// Store: this node's replica of the replicated state store, where sessions stash their state so
// that it can be picked up on another node — the Asio driver of StoreCore (store_core.h), which
// holds the replica, its peers and the rules.
//
// Every accepted change of a session is stashed (put) here; the replica pushes it to every
// other member within one tick (StoreCore::kTickMs: the "replication interval" of --replication
// async) and re-sends until acknowledged. flush() completes when every peer has acknowledged
// everything stashed before the call — woken by the acknowledgement, never a fixed sleep; it is
// what a draining node waits for before it leaves. pickup() reads what is here now. Messages
// travel as bytes (crdt/codec.h) on the cluster's store channel.
//
// With a data dir (attach_disk), the core's batches are written by a writer thread of its own
// (an fsync must not stall the node's loop): one batch at a time, every commit interval, or at
// once when a durable flush waits for the disk.
//
// With a database (attach_database), the core's database batches are written the same way by a
// thread of their own (the node's loop never waits for the database), every commit interval;
// after a failure, when the core's backoff allows. A database that fails is logged once when it
// starts failing and once when it is written again.
//
// Thread: the io_context's single thread; the writer threads touch only the DataDir and the
// PgDatabase.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/log_throttle.h"
#include "handoff/store_core.h"
#include "storage/data_dir.h"

namespace minotaur::handoff {

class Store {
 public:
  using Send = std::function<bool(const std::string& peer_name, const std::string& bytes)>;

  Store(boost::asio::io_context& io, std::string self_name, std::uint64_t self_incarnation,
        Send send);
  ~Store();

  void start();
  void stop();

  // Peers are added and removed on the core, by the sessions' node core (sessions/node_core.h).
  void on_message(const std::string& from_name, std::uint64_t from_incarnation,
                  std::string_view bytes);

  // What the sessions stash into and pick up from.
  StoreCore& core() { return core_; }
  const StoreCore& core() const { return core_; }
  std::size_t size() const { return core_.size(); }

  // True when every peer acknowledged everything stashed before the call (and, `durable`, the
  // data dir holds it: StoreCore::flush); false on time-out.
  boost::asio::awaitable<bool> flush(std::int64_t timeout_ms, bool durable = false);
  // Flushes started on the core directly (StoreCore::flush) complete here.
  void on_flushed(std::function<void(const crdt::FlushDone&)> handler) {
    on_flushed_ = std::move(handler);
  }
  // Sends what the core queued and completes the flushes it finished: after every input to the
  // core that did not come through this class.
  void deliver();

  const StoreCounters& counters() const { return core_.counters(); }

  // ---- the disk ----
  // Writes the core's batches to `dir` (loaded into the core already) from now on. The dir must
  // outlive this store.
  void attach_disk(storage::DataDir& dir, std::int64_t commit_interval_ms);
  // Everything stashed so far on the disk: true once it is, false when a batch failed or
  // timeout_ms passed first. What a stopping node waits for.
  boost::asio::awaitable<bool> write_to_disk(std::int64_t timeout_ms);
  // The last batch was written (or there is no disk): changes may be accepted.
  bool disk_ok() const { return core_.disk_ok(); }
  const std::string& disk_error() const { return disk_error_; }

  // ---- the database ----
  // Writes the core's database batches (StoreCore::attach_database done) from now on. The
  // database must outlive this store.
  void attach_database(storage::PgDatabase& db, std::int64_t commit_interval_ms);
  // Everything queued for the database so far written: true once it is, false when timeout_ms
  // passed first. What a stopping node waits for.
  boost::asio::awaitable<bool> write_to_database(std::int64_t timeout_ms);

 private:
  void tick();
  void every(boost::asio::steady_timer& timer, std::int64_t interval_ms, void (Store::*step)());
  void commit();  // the core's next batch, if any, to the writer thread

  boost::asio::io_context& io_;
  StoreCore core_;
  Send send_;
  boost::asio::steady_timer timer_;
  std::map<crdt::FlushId, std::pair<boost::asio::steady_timer*, bool*>> flushes_;
  std::function<void(const crdt::FlushDone&)> on_flushed_;
  bool stopped_ = false;
  // The disk.
  storage::DataDir* disk_ = nullptr;
  std::int64_t commit_interval_ms_ = 0;
  boost::asio::steady_timer commit_timer_;
  std::optional<boost::asio::thread_pool> writer_;        // one thread
  std::vector<boost::asio::steady_timer*> disk_waiters_;  // woken after every batch
  std::string disk_error_;
  LogThrottle failure_log_{10'000};
  // The database.
  void db_write();  // the core's next database batch, if any, to its writer thread
  storage::PgDatabase* database_ = nullptr;
  std::int64_t db_interval_ms_ = 0;
  boost::asio::steady_timer db_timer_;
  std::optional<boost::asio::thread_pool> db_writer_;  // one thread
};

}  // namespace minotaur::handoff
