// Router: the cluster-wide face of the sessions. Every node answers for every game: the router
// finds the session's owner by placement (placement.h) and serves the call on the local host or
// forwards it to the owner; it moves sessions to their new owner when membership changes (a node
// joins, leaves or is draining) and pushes game changes to the nodes whose clients watch them.
//
// Hand-off (DESIGN.md "How a hand-off should go"): the old owner freezes the session (calls for
// it wait, its round timer is paused), sends its state and its watchers to the new owner, which
// starts it with the next epoch and acknowledges; then the old owner drops it and the waiting
// calls go on — now forwarded to the new owner. A call that reaches the new owner before the
// state does waits for it, woken by its arrival (bounded by kArrivalWaitMs, within the hand-off
// window after a membership change). Nothing is refused during a hand-off; calls are delayed.
//
// Weaknesses, today: there is no replicated store yet, so a session whose node is killed
// (SIGKILL) is lost; two partitioned sides that both believe they own a session both serve it
// (epochs tell the copies apart but do not fence writes without a store to compare against).
//
// Thread: the io_context's single thread, with the SessionHost.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "handoff/store.h"
#include "sessions/host.h"
#include "sessions/sessions.pb.h"

namespace minotaur::sessions {

// What the router needs of the cluster: who serves, and a way to send bytes to a peer.
class ClusterLink {
 public:
  virtual ~ClusterLink() = default;
  // Names of the members that take sessions (up, not leaving), this node included while it is.
  virtual std::vector<std::string> serving_members() const = 0;
  // Sends on the sessions channel; false when the peer is not connected.
  virtual bool send(const std::string& peer, const std::string& bytes) = 0;
};

struct RouterCounters {
  std::uint64_t forwarded = 0;          // calls sent to another node
  std::uint64_t forward_timeouts = 0;   // ... that got no reply in time
  std::uint64_t handoffs_sent = 0;      // sessions handed to a new owner and acknowledged
  std::uint64_t handoffs_received = 0;  // sessions started here from a hand-off
  std::uint64_t waits_for_arrival = 0;  // calls that waited for a session in transit
  std::uint64_t pushes_sent = 0;        // game changes sent to watching nodes
  std::uint64_t picked_up = 0;          // sessions started here from the replicated store
  std::uint64_t sync_timeouts = 0;      // sync replication not acknowledged in time
};

class Router {
 public:
  static constexpr std::uint32_t kMaxForwardHops = 4;
  static constexpr std::int64_t kCallTimeoutMs = 10'000;    // a whole call, waits included
  static constexpr std::int64_t kForwardTimeoutMs = 3'000;  // one forwarded call's reply
  static constexpr std::int64_t kHandoffWindowMs = 5'000;   // after a membership change
  static constexpr std::int64_t kAckTimeoutMs = 2'000;      // for one transfer's ack
  static constexpr std::int64_t kSyncTimeoutMs = 2'000;     // --replication sync's wait
  static constexpr std::size_t kMaxWaitingCalls = 1024;     // per session, during a hand-off
  // Transfers in flight from this node: the transport queues at most 4096 frames per peer and
  // cuts a connection whose queue overflows, which 10,000 transfers at once did.
  static constexpr std::size_t kMaxHandoffsInFlight = 512;

  // `store` (may be null: no replication) gets every accepted change; with `sync` a change is
  // reported only after every peer acknowledged it (--replication sync).
  Router(asio::any_io_executor executor, SessionHost& host, ClusterLink& link, std::string self,
         handoff::Store* store = nullptr, bool sync = false);
  ~Router();

  asio::awaitable<Result<GameView, SessionError>> create_game(game::Game game);
  asio::awaitable<Result<GameView, SessionError>> get_game(std::string game_id);
  asio::awaitable<Result<GameView, SessionError>> act(std::string game_id, Caller caller,
                                                      game::Action action);
  asio::awaitable<Result<GameView, SessionError>> end_round(std::string game_id, Caller caller);
  asio::awaitable<Result<game::Lobby, SessionError>> create_lobby(Caller host);
  asio::awaitable<Result<game::Lobby, SessionError>> join_lobby(std::string code, Caller caller);
  asio::awaitable<Result<std::string, SessionError>> start_lobby(std::string code, Caller caller);
  asio::awaitable<Result<game::Lobby, SessionError>> get_lobby(std::string code);

  // Every change of the game, from whichever node hosts it, also after it moved.
  std::uint64_t subscribe(const std::string& game_id, SessionHost::GameListener listener);
  void unsubscribe(const std::string& game_id, std::uint64_t id);

  // From the cluster: a message on the sessions channel, a membership change (`down_node` is
  // the member that went down, if any).
  void on_message(const std::string& from, std::string_view bytes);
  void on_membership_changed(const std::string& down_node);

  // Hands every session to its new owner (the membership must already exclude this node) and
  // completes when none is left here, or when `bound_ms` passes.
  asio::awaitable<void> drain(std::int64_t bound_ms);

  const RouterCounters& counters() const { return counters_; }
  // Calls other nodes forwarded here that are not answered yet. A draining node waits for them
  // before it closes its connections: an unanswered one costs its sender kForwardTimeoutMs.
  std::size_t remote_calls_in_flight() const { return remote_calls_in_flight_; }

 private:
  struct Outcome {
    std::optional<GameView> game;
    std::optional<game::Lobby> lobby;
    std::string game_id;
  };
  using CallResult = Result<Outcome, SessionError>;

  asio::awaitable<CallResult> route(std::string key, v1::Request request);
  asio::awaitable<CallResult> execute_local(const v1::Request& request);
  asio::awaitable<std::optional<v1::Reply>> forward(const std::string& owner, v1::Request request);
  asio::awaitable<void> serve_remote(std::string from, v1::Request request);
  asio::awaitable<void> handoff(std::string key);
  asio::awaitable<void> wait(const std::string& key, std::int64_t until_ms);
  void notify(const std::string& key);
  void notify_all();
  void rebalance();
  void send(const std::string& peer, const v1::Envelope& envelope);
  void on_transfer(const std::string& from, const v1::Transfer& t);
  void push(const GameView& view);
  void stash(const std::string& key);
  bool pick_up(const std::string& key);  // from the store, if it has the key; true if started
  void pick_up_orphans();
  std::string owner(const std::string& key) const;
  std::int64_t now_ms() const;

  asio::any_io_executor executor_;
  SessionHost& host_;
  ClusterLink& link_;
  std::string self_;
  handoff::Store* store_;
  bool sync_;
  RouterCounters counters_;
  std::uint64_t next_request_id_ = 1;
  std::size_t remote_calls_in_flight_ = 0;
  bool rebalance_pending_ = false;  // sessions left for later by kMaxHandoffsInFlight
  std::int64_t last_change_ms_ = 0;
  bool draining_ = false;

  struct Pending {
    std::unique_ptr<asio::steady_timer> timer;
    std::optional<v1::Reply> reply;
  };
  std::map<std::uint64_t, Pending> pending_;                      // forwarded calls by request id
  std::multimap<std::string, asio::steady_timer*> waiters_;       // calls waiting on a key
  std::set<std::string> moving_;                                  // keys being handed off
  std::map<std::string, std::uint64_t> acked_;                    // key -> epoch the owner acked
  std::map<std::string, std::set<std::string>> remote_watchers_;  // game id -> nodes
  std::map<std::string, std::size_t> watched_;                    // game id -> local listeners
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace minotaur::sessions
