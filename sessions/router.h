// Router: the cluster-wide face of the sessions. Every node answers for every game: the router
// finds the session's owner by placement (placement.h) and serves the call on the local host or
// forwards it to the owner; it moves sessions to their new owner when membership changes (a node
// joins, leaves or is draining) and pushes game changes to the nodes whose clients watch them.
//
// The decisions — who owns a key, when to serve, wait or forward, how a session moves to its new
// owner and is picked up after a crash, the fencing of stale owners, what a membership change
// does to the store's peers — are made by the sans-I/O node core (node_core.h), which the
// simulator (sim/) also drives. The router is its Asio shell: it carries the core's messages,
// wakes the calls waiting on a key, forwards calls and their replies, ticks the core on a timer,
// executes calls on the SessionHost and keeps the WebSocket watchers of each game.
//
// Thread: the io_context's single thread, with the SessionHost.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/gate.h"
#include "base/metrics.h"
#include "game/join_code.h"
#include "handoff/store.h"
#include "sessions/host.h"
#include "sessions/node_core.h"
#include "sessions/sessions.pb.h"

namespace minotaur::sessions {

// What the router needs of the cluster: the member table, the leases now, and a way to send bytes
// to a peer.
class ClusterLink {
 public:
  virtual ~ClusterLink() = default;
  virtual MembershipView membership() const = 0;  // view_of(the membership)
  // Read at every decision, not cached: see node_core.h.
  virtual Lease lease() const = 0;
  // Sends on the sessions channel; false when the peer is not connected.
  virtual bool send(const std::string& peer, const std::string& bytes) = 0;
};

struct RouterCounters {
  std::uint64_t forwarded = 0;         // calls sent to another node
  std::uint64_t forward_timeouts = 0;  // ... that got no reply in time
  // ... given up when the cluster declared their node down: asked again at once (the new owner
  // starts the session from the store), not after the forward's time-out
  std::uint64_t forwards_to_the_dead = 0;
  std::uint64_t pushes_sent = 0;       // game changes sent to watching nodes
  std::uint64_t sync_timeouts = 0;     // sync replication not acknowledged in time
};

class Router {
 public:
  // `store` (may be null: no replication) gets every accepted change; with `sync` a change is
  // reported only after every peer acknowledged it (--replication sync).
  // `self_id` is this incarnation, "name#incarnation".
  Router(asio::any_io_executor executor, SessionHost& host, ClusterLink& link, std::string self,
         std::string self_id, handoff::Store* store = nullptr, bool sync = false);
  // How many letters the join codes of the lobbies this node creates have (--join-code-letters;
  // game/join_code.h). Every node reads codes of any length from 4 to 8 letters.
  void set_join_code_length(std::size_t letters);
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

  // The journal's reset_all, for test clusters: drops every session and every stash on every
  // serving node, so that tests sharing a cluster never see each other's games. Refused
  // (kForbidden, "reset_disabled") unless this node and every other were started with
  // --allow-reset (set_allow_reset). Returns how many sessions were dropped.
  asio::awaitable<Result<std::uint64_t, SessionError>> reset_all();
  void set_allow_reset(bool allow) { allow_reset_ = allow; }

  // Every change of the game, from whichever node hosts it, also after it moved.
  std::uint64_t subscribe(const std::string& game_id, SessionHost::GameListener listener);
  void unsubscribe(const std::string& game_id, std::uint64_t id);

  // From the cluster: a message on the sessions channel, a member event (kFenced: this
  // incarnation was declared down; the router has stopped and the node must exit).
  void on_message(const std::string& from, std::string_view bytes,
                  std::uint64_t from_incarnation = 0);
  NodeCore::MemberOutcome on_member_event(const cluster::MemberEvent& event);

  // Hands every session to its new owner (the membership must already exclude this node) and
  // completes when none is left here, or when NodeCore::kDrainBoundMs passed.
  asio::awaitable<void> drain();

  // Stops the re-send timer (the node is shutting down).
  void stop();
  // Why this node holds changes now (NodeCore::changes_held), or nothing when it accepts them.
  std::optional<Hold> changes_held() const { return core_.changes_held(link_.lease()); }
  std::optional<Hold> not_ready() const { return core_.not_ready(link_.lease()); }
  const RouterCounters& counters() const { return counters_; }
  const OwnershipCounters& ownership_counters() const { return core_.counters(); }
  // Adds these counters to the node's registry, read from here while it renders.
  void add_metrics(Metrics& registry) const;
  // Completes when every call other nodes forwarded here is answered (true), or after
  // `bound_ms`. A draining node waits for them before it closes its connections: an unanswered
  // one costs its sender NodeCore::kForwardTimeoutMs.
  asio::awaitable<bool> remote_calls_answered(std::int64_t bound_ms) {
    return remote_calls_.wait_idle(executor_, std::chrono::milliseconds(bound_ms));
  }

 private:
  struct Outcome {
    std::optional<GameView> game;
    std::optional<game::Lobby> lobby;
    std::string game_id;
  };
  using CallResult = Result<Outcome, SessionError>;

  asio::awaitable<CallResult> route(std::string key, v1::Request request);
  asio::awaitable<CallResult> execute_local(const v1::Request& request);
  static CallResult from_reply(v1::Reply reply);
  asio::awaitable<std::optional<v1::Reply>> forward(const std::string& owner, v1::Request request);
  asio::awaitable<void> serve_remote(std::string from, v1::Request request);
  Result<std::uint64_t, SessionError> reset_here(bool check_only);
  asio::awaitable<void> wait(const std::string& key, std::int64_t until_ms);
  asio::awaitable<void> tick_loop();
  void notify(const std::string& key);
  void notify_all();
  void send(const std::string& peer, const v1::Envelope& envelope);
  void carry_out();  // the core's messages and wakes, and the store's messages
  void carry_core();  // the core's messages and wakes
  void push(const GameView& view);
  std::string owner(const std::string& key) const { return core_.owner(key); }
  std::int64_t now_ms() const;

  asio::any_io_executor executor_;
  SessionHost& host_;
  ClusterLink& link_;
  std::string self_;
  handoff::Store* store_;
  NodeCore core_;
  std::size_t join_code_length_ = game::kDefaultJoinCodeLength;
  RouterCounters counters_;
  std::uint64_t next_request_id_ = 1;
  std::unique_ptr<asio::steady_timer> tick_timer_;
  bool stopped_ = false;
  bool allow_reset_ = false;
  Gate remote_calls_;  // calls other nodes forwarded here, until answered

  struct Pending {
    std::string to;  // the member it was sent to
    std::unique_ptr<asio::steady_timer> timer;
    std::optional<v1::Reply> reply;
    bool to_the_dead = false;  // given up: `to` was declared down
  };
  std::map<std::uint64_t, Pending> pending_;                      // forwarded calls by request id
  std::multimap<std::string, asio::steady_timer*> waiters_;       // calls waiting on a key
  std::map<std::string, std::set<std::string>> remote_watchers_;  // game id -> nodes
  std::map<std::string, std::size_t> watched_;                    // game id -> local listeners
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace minotaur::sessions
