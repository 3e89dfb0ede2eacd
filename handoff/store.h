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

#include "handoff/store_core.h"

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

  // True when every peer acknowledged everything stashed before the call; false on time-out.
  boost::asio::awaitable<bool> flush(std::int64_t timeout_ms);
  // Flushes started on the core directly (StoreCore::flush) complete here.
  void on_flushed(std::function<void(const crdt::FlushDone&)> handler) {
    on_flushed_ = std::move(handler);
  }
  // Sends what the core queued and completes the flushes it finished: after every input to the
  // core that did not come through this class.
  void deliver();

  const StoreCounters& counters() const { return core_.counters(); }

 private:
  void tick();

  boost::asio::io_context& io_;
  StoreCore core_;
  Send send_;
  boost::asio::steady_timer timer_;
  std::map<crdt::FlushId, std::pair<boost::asio::steady_timer*, bool*>> flushes_;
  std::function<void(const crdt::FlushDone&)> on_flushed_;
  bool stopped_ = false;
};

}  // namespace minotaur::handoff
