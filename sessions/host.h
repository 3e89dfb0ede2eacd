// SessionHost: the sessions one node hosts — every game and lobby that lives here — and the
// round timers that drive them.
//
// Design note. Each session is a single-threaded actor: all of a node's sessions run on the
// node's one io_context thread, so a session's operations never interleave and need no locks
// (the io_context is the strand). Operations are plain functions that run to completion: the
// waiting a call may do (for a hand-off, for the owner on another node) is the router's. The
// round timer is part of the state: the deadline is `round_ends_at_ms` (wall
// clock), so a session started from a handed-off state keeps its original deadline.
//
// Sessions do not live for ever: a concluded game is dropped a retention after its last round's
// deadline, a lobby a retention after its last change (HostOptions). Both deadlines come from the
// state, so a hand-off keeps them; the router drops the session from the cluster.
//
// Thread: every method must be called on the io_context's thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "base/result.h"
#include "game/game.h"
#include "game/lobby.h"
#include "sessions/errors.h"
#include "sessions/ownership.h"

namespace minotaur::sessions {

namespace asio = boost::asio;

// A game as the API shows it: its state, the node that hosts it and its ownership epoch.
struct GameView {
  game::Game game;
  std::string node;
  std::uint64_t epoch = 0;
};

struct HostOptions {
  std::string node_name;
  std::int64_t round_time_ms = 30'000;
  std::size_t max_sessions = 1'000'000;
  std::function<std::int64_t()> wall_clock_ms;  // ms since the epoch; injectable for tests
  std::uint64_t random_seed = 0;                // for ids and join codes
  // A concluded game stays readable this long after its last round's deadline, then the
  // on_expired callback drops it (from this host and the replicated store). A
  // negative value keeps concluded games for ever.
  std::int64_t concluded_retention_ms = 10 * 60 * 1000;
  // A lobby (open or started) nobody changed for this long is dropped the same way, so that
  // abandoned lobbies do not hold join codes and memory for ever. Negative: kept for ever.
  std::int64_t lobby_retention_ms = 60 * 60 * 1000;
};

// Who asks: a user (by id and display name), or the admin.
struct Caller {
  std::string user_id;
  std::string display_name;
  bool admin = false;
};

class SessionHost final : public SessionStates {
 public:
  using GameListener = std::function<void(const GameView&)>;

  SessionHost(asio::any_io_executor executor, HostOptions options);
  ~SessionHost();
  SessionHost(const SessionHost&) = delete;
  SessionHost& operator=(const SessionHost&) = delete;

  // Games.
  Result<GameView, SessionError> create_game(game::Game game);
  Result<GameView, SessionError> get_game(std::string game_id);
  Result<GameView, SessionError> act(std::string game_id, Caller caller, game::Action action);
  Result<GameView, SessionError> end_round(std::string game_id, Caller caller);

  // Lobbies, by join code.
  // With an empty code the host picks a free one; a given code that is taken is refused
  // (kConflict, "join_code_taken") so that the caller can pick another.
  Result<game::Lobby, SessionError> create_lobby(Caller host, std::string code);
  Result<game::Lobby, SessionError> join_lobby(std::string code, Caller caller);
  // Marks the lobby started and returns its new game, which the caller creates where placement
  // puts it (create_game here, or on its owner).
  Result<game::Game, SessionError> start_lobby(std::string code, Caller caller);
  Result<game::Lobby, SessionError> get_lobby(std::string code);

  // Every change of the game from now on, in order, and the current state at once when the game
  // is known. Returns an id for unsubscribe().
  std::uint64_t subscribe(const std::string& game_id, GameListener listener);
  void unsubscribe(const std::string& game_id, std::uint64_t id);

  // Hosting, for the router that moves sessions between nodes. Keys are placement.h's
  // game_key / lobby_key.
  bool hosts(const std::string& key) const override;
  std::vector<std::string> keys() const override;
  std::uint64_t epoch(const std::string& key) const override;  // 0 when not hosted
  // The session's state at rest (proto/codec.h bytes) and whether it is a game.
  std::pair<std::string, bool> export_state(const std::string& key) const override;
  // Starts a session from a handed-off or replicated state with the given epoch; the round timer
  // keeps the state's deadline. Refused when the bytes are invalid.
  Result<Ok, std::string> install(const std::string& key, std::string_view state, bool is_game,
                                  std::uint64_t epoch) override;
  // Stops hosting it (after its new owner acknowledged it): timer cancelled, state dropped.
  void remove(const std::string& key) override;
  // A frozen session's timers do not fire (it is being handed off); unfreezing
  // re-arms it at the state's deadline.
  void set_frozen(const std::string& key, bool frozen) override;
  bool frozen(const std::string& key) const override;
  // Called after every change of every game hosted here (the router pushes to remote watchers).
  void on_any_change(GameListener listener) { on_any_change_ = std::move(listener); }
  // Called with the key of a session whose retention ran out (a concluded game or a lobby, see
  // HostOptions); the owner removes it. Without a callback sessions stay.
  void on_expired(std::function<void(const std::string& key)> f) { on_expired_ = std::move(f); }

  // Hands a view of a game hosted elsewhere to this node's listeners (remote pushes).
  void deliver(const GameView& view);

  std::size_t game_count() const { return games_.size(); }
  std::size_t lobby_count() const { return lobbies_.size(); }
  std::uint64_t rounds_ended_by_timer() const { return rounds_ended_by_timer_; }
  // Adds the three above to the node's registry, read from here while it renders.
  void add_metrics(Metrics& registry) const;

  // Cancels every timer; afterwards the host serves nothing.
  void stop();

 private:
  struct GameSession;
  struct LobbySession;

  GameView view(const GameSession& s) const;
  void changed(GameSession& s);
  void arm_round_timer(GameSession& s);
  void arm_retention_timer(GameSession& s);
  void lobby_changed(LobbySession& s);
  void arm_lobby_timer(LobbySession& s);
  std::optional<SessionError> check_capacity() const;
  std::string new_game_id();

  asio::any_io_executor executor_;
  HostOptions options_;
  std::mt19937_64 random_;
  std::unordered_map<std::string, std::unique_ptr<GameSession>> games_;
  std::unordered_map<std::string, std::unique_ptr<LobbySession>> lobbies_;
  std::unordered_map<std::string, std::map<std::uint64_t, GameListener>> listeners_;
  GameListener on_any_change_;
  std::function<void(const std::string&)> on_expired_;
  std::uint64_t next_listener_id_ = 1;
  std::uint64_t rounds_ended_by_timer_ = 0;
  bool stopped_ = false;
};

}  // namespace minotaur::sessions
