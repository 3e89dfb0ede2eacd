#include "sessions/host.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "base/deadline.h"
#include "game/actions.h"
#include "game/join_code.h"
#include "game/round.h"
#include "game/validate.h"
#include "proto/codec.h"
#include "sessions/placement.h"

namespace minotaur::sessions {

namespace {

SessionError not_found_game(const std::string& id) {
  return {ErrorCode::kGameNotFound,
          fmt::format("no game with id '{}'; check the id, or start a game from a lobby", id)};
}

SessionError not_found_lobby(const std::string& code) {
  return {ErrorCode::kLobbyNotFound,
          fmt::format("no lobby with join code '{}'; check the code with its host", code)};
}

}  // namespace

struct SessionHost::GameSession {
  GameSession(asio::any_io_executor ex, game::Game g) : game(std::move(g)), round_timer(ex) {}
  game::Game game;
  std::uint64_t epoch = 1;
  bool frozen = false;
  asio::steady_timer round_timer;
};

struct SessionHost::LobbySession {
  LobbySession(asio::any_io_executor ex, game::Lobby l, std::uint64_t e)
      : lobby(std::move(l)), epoch(e), expiry_timer(ex) {}
  game::Lobby lobby;
  std::uint64_t epoch = 1;
  bool frozen = false;
  asio::steady_timer expiry_timer;  // drops it a retention after its last change
};

SessionHost::SessionHost(asio::any_io_executor executor, HostOptions options)
    : executor_(std::move(executor)), options_(std::move(options)), random_(options_.random_seed) {
  if (!options_.wall_clock_ms) {
    options_.wall_clock_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  MINOTAUR_ASSERT(options_.round_time_ms > 0);
}

SessionHost::~SessionHost() {
  stop();
}

void SessionHost::stop() {
  stopped_ = true;
  for (auto& [id, s] : games_) s->round_timer.cancel();
  for (auto& [code, s] : lobbies_) s->expiry_timer.cancel();
}

void SessionHost::add_metrics(Metrics& registry) const {
  registry.add_gauge("minotaur_games", "games hosted on this node",
                     [this] { return game_count(); });
  registry.add_gauge("minotaur_lobbies", "lobbies hosted on this node",
                     [this] { return lobby_count(); });
  registry.add_counter("minotaur_rounds_ended_by_timer_total",
                       "rounds ended by their deadline on this node",
                       [this] { return rounds_ended_by_timer(); });
}

GameView SessionHost::view(const GameSession& s) const {
  return GameView{s.game, options_.node_name, s.epoch};
}

void SessionHost::changed(GameSession& s) {
  if (on_any_change_) on_any_change_(view(s));
  auto it = listeners_.find(s.game.id);
  if (it == listeners_.end()) return;
  const GameView v = view(s);
  const auto listeners = it->second;  // a listener may unsubscribe while we call it
  for (const auto& [id, fn] : listeners) fn(v);
}

void SessionHost::arm_round_timer(GameSession& s) {
  s.round_timer.cancel();
  if (stopped_ || s.frozen) return;
  if (s.game.status == game::Status::kConcluded) {
    arm_retention_timer(s);
    return;
  }
  if (s.game.status != game::Status::kActive) return;
  s.round_timer.expires_after(delay_until(s.game.round_ends_at_ms, 0, options_.wall_clock_ms()));
  const std::int32_t round = s.game.round;
  s.round_timer.async_wait([this, id = s.game.id, round](boost::system::error_code ec) {
    if (ec || stopped_) return;  // cancelled: the round ended otherwise, or the host stopped
    auto it = games_.find(id);
    if (it == games_.end()) return;
    GameSession& session = *it->second;
    if (session.frozen) return;
    if (session.game.round != round || session.game.status != game::Status::kActive) return;
    auto outcome = game::end_round(session.game, options_.wall_clock_ms() + options_.round_time_ms);
    MINOTAUR_ASSERT(outcome.ok());
    ++rounds_ended_by_timer_;
    changed(session);
    arm_round_timer(session);
  });
}

// The same timer, once the game concluded: it is dropped when its retention runs out. The
// deadline comes from the state (its last round's deadline), so it survives a hand-off.
void SessionHost::arm_retention_timer(GameSession& s) {
  if (options_.concluded_retention_ms < 0 || !on_expired_) return;
  s.round_timer.expires_after(delay_until(s.game.round_ends_at_ms, options_.concluded_retention_ms,
                                          options_.wall_clock_ms()));
  s.round_timer.async_wait([this, id = s.game.id](boost::system::error_code ec) {
    if (ec || stopped_) return;
    auto it = games_.find(id);
    if (it == games_.end() || it->second->frozen) return;
    if (it->second->game.status != game::Status::kConcluded || !on_expired_) return;
    spdlog::info("session {}: concluded, retention over; dropping it", id);
    on_expired_(game_key(id));  // removes it: `it` is gone after this
  });
}

// Every change of a lobby stamps it and pushes its expiry back.
void SessionHost::lobby_changed(LobbySession& s) {
  s.lobby.changed_at_ms = options_.wall_clock_ms();
  arm_lobby_timer(s);
}

void SessionHost::arm_lobby_timer(LobbySession& s) {
  s.expiry_timer.cancel();
  if (stopped_ || s.frozen || options_.lobby_retention_ms < 0 || !on_expired_) return;
  s.expiry_timer.expires_after(
      delay_until(s.lobby.changed_at_ms, options_.lobby_retention_ms, options_.wall_clock_ms()));
  s.expiry_timer.async_wait(
      [this, code = s.lobby.join_code, at = s.lobby.changed_at_ms](boost::system::error_code ec) {
        if (ec || stopped_) return;  // cancelled: changed again, frozen, removed or stopping
        auto it = lobbies_.find(code);
        if (it == lobbies_.end() || it->second->frozen || !on_expired_) return;
        if (it->second->lobby.changed_at_ms != at) return;  // changed since: re-armed then
        spdlog::info("lobby {}: unchanged for its retention; dropping it", code);
        on_expired_(lobby_key(code));  // removes it: `it` is gone after this
      });
}

std::optional<SessionError> SessionHost::check_capacity() const {
  if (stopped_) {
    return SessionError(ErrorCode::kNodeStopping);
  }
  if (games_.size() + lobbies_.size() >= options_.max_sessions) {
    return SessionError(ErrorCode::kNodeFull);
  }
  return std::nullopt;
}

std::string SessionHost::new_game_id() {
  for (;;) {
    std::string id = fmt::format("g_{:012x}", random_() & 0xffffffffffffULL);
    if (games_.count(id) == 0) return id;
  }
}

Result<GameView, SessionError> SessionHost::create_game(game::Game g) {
  if (auto full = check_capacity()) return err(*full);
  if (auto ok = game::validate(g); !ok) {
    return err(SessionError{ErrorCode::kInvalidGame, ok.error()});
  }
  if (games_.count(g.id) != 0) {
    return err(
        SessionError{ErrorCode::kGameExists,
                     fmt::format("a game with id '{}' exists already; choose another id", g.id)});
  }
  if (g.round_ends_at_ms == 0)
    g.round_ends_at_ms = options_.wall_clock_ms() + options_.round_time_ms;
  auto session = std::make_unique<GameSession>(executor_, std::move(g));
  GameSession& s = *session;
  games_.emplace(s.game.id, std::move(session));
  spdlog::info("session {}: started here (round {}, epoch {})", s.game.id, s.game.round, s.epoch);
  arm_round_timer(s);
  changed(s);
  return view(s);
}

Result<GameView, SessionError> SessionHost::get_game(std::string game_id) {
  auto it = games_.find(game_id);
  if (it == games_.end()) return err(not_found_game(game_id));
  return view(*it->second);
}

Result<GameView, SessionError> SessionHost::act(std::string game_id, Caller caller,
                                                game::Action action) {
  auto it = games_.find(game_id);
  if (it == games_.end()) return err(not_found_game(game_id));
  GameSession& s = *it->second;
  auto r = game::register_action(s.game, caller.user_id, action);
  if (!r) return err(rule_error(r.error()));
  changed(s);
  return view(s);
}

Result<GameView, SessionError> SessionHost::end_round(std::string game_id, Caller caller) {
  auto it = games_.find(game_id);
  if (it == games_.end()) return err(not_found_game(game_id));
  GameSession& s = *it->second;
  const std::int64_t next_deadline = options_.wall_clock_ms() + options_.round_time_ms;
  // The admin ends the round at once; a player is ready, and the round ends once every living
  // player is.
  game::ReadyOutcome outcome;
  if (caller.admin) {
    auto r = game::end_round(s.game, next_deadline);
    if (!r) return err(rule_error(r.error()));
    outcome = {true, r.value()};
  } else {
    auto r = game::player_ends_round(s.game, caller.user_id, next_deadline);
    if (!r) return err(rule_error(r.error()));
    outcome = r.value();
  }
  if (outcome.changed) changed(s);
  if (outcome.resolved) arm_round_timer(s);
  return view(s);
}

Result<game::Lobby, SessionError> SessionHost::create_lobby(Caller host, std::string code) {
  if (auto full = check_capacity()) return err(*full);
  if (!code.empty() && lobbies_.count(code) != 0) {
    return err(SessionError(ErrorCode::kJoinCodeTaken));
  }
  for (int attempt = 0; code.empty(); ++attempt) {
    std::string candidate = game::make_join_code(random_());
    if (lobbies_.count(candidate) == 0) code = std::move(candidate);
    if (code.empty() && attempt == 64) {
      return err(SessionError(ErrorCode::kNoJoinCode));
    }
  }
  auto session = std::make_unique<LobbySession>(
      executor_, game::new_lobby(code, {host.user_id, host.display_name}), 1);
  LobbySession& s = *session;
  lobbies_.emplace(code, std::move(session));
  lobby_changed(s);
  spdlog::info("lobby {}: created here by {}", code, host.user_id);
  return s.lobby;
}

Result<game::Lobby, SessionError> SessionHost::get_lobby(std::string code) {
  auto it = lobbies_.find(code);
  if (it == lobbies_.end()) return err(not_found_lobby(code));
  return it->second->lobby;
}

Result<game::Lobby, SessionError> SessionHost::join_lobby(std::string code, Caller caller) {
  auto it = lobbies_.find(code);
  if (it == lobbies_.end()) return err(not_found_lobby(code));
  auto r = game::join_lobby(it->second->lobby, {caller.user_id, caller.display_name});
  if (!r) return err(rule_error(r.error()));
  lobby_changed(*it->second);
  return it->second->lobby;
}

Result<game::Game, SessionError> SessionHost::start_lobby(std::string code, Caller caller) {
  auto it = lobbies_.find(code);
  if (it == lobbies_.end()) return err(not_found_lobby(code));
  if (auto full = check_capacity()) return err(*full);
  auto g = game::start_game(it->second->lobby, caller.user_id, new_game_id(),
                            options_.wall_clock_ms() + options_.round_time_ms);
  if (!g) return err(rule_error(g.error()));
  lobby_changed(*it->second);
  return std::move(g).value();
}

bool SessionHost::hosts(const std::string& key) const {
  const auto k = SessionKey::parse(key);
  if (!k) return false;
  return k->is_game() ? games_.count(k->id) != 0 : lobbies_.count(k->id) != 0;
}

std::vector<std::string> SessionHost::keys() const {
  std::vector<std::string> out;
  out.reserve(games_.size() + lobbies_.size());
  for (const auto& [id, s] : games_) out.push_back(game_key(id));
  for (const auto& [code, l] : lobbies_) out.push_back(lobby_key(code));
  return out;
}

std::uint64_t SessionHost::epoch(const std::string& key) const {
  const auto k = SessionKey::parse(key);
  if (!k) return 0;
  if (k->is_game()) {
    auto it = games_.find(k->id);
    return it == games_.end() ? 0 : it->second->epoch;
  }
  auto it = lobbies_.find(k->id);
  return it == lobbies_.end() ? 0 : it->second->epoch;
}

std::pair<std::string, bool> SessionHost::export_state(const std::string& key) const {
  const auto k = SessionKey::parse(key);
  MINOTAUR_ASSERT(k.has_value());
  if (k->is_game()) {
    auto it = games_.find(k->id);
    MINOTAUR_ASSERT(it != games_.end());
    return {proto::encode_game(it->second->game), true};
  }
  auto it = lobbies_.find(k->id);
  MINOTAUR_ASSERT(it != lobbies_.end());
  return {proto::encode_lobby(it->second->lobby), false};
}

Result<Ok, std::string> SessionHost::install(const std::string& key, std::string_view state,
                                             bool is_game, std::uint64_t epoch) {
  MINOTAUR_ASSERT(epoch > 0);
  if (is_game) {
    auto g = proto::decode_game(state);
    if (!g) return err(g.error());
    if (game_key(g.value().id) != key) return err(std::string("the state is of another game"));
    auto& slot = games_[g.value().id];
    if (slot) slot->round_timer.cancel();
    slot = std::make_unique<GameSession>(executor_, std::move(g).value());
    slot->epoch = epoch;
    spdlog::info(
        "session {}: started here from a handed-off state (round {}, version {}, epoch {})",
        slot->game.id, slot->game.round, slot->game.version, epoch);
    arm_round_timer(*slot);
    changed(*slot);
    return Ok{};
  }
  auto l = proto::decode_lobby(state);
  if (!l) return err(l.error());
  if (lobby_key(l.value().join_code) != key)
    return err(std::string("the state is of another lobby"));
  const std::string code = l.value().join_code;
  // Written by a version before lobbies expired: its retention counts from now.
  if (l.value().changed_at_ms == 0) l.value().changed_at_ms = options_.wall_clock_ms();
  auto& slot = lobbies_[code];
  if (slot) slot->expiry_timer.cancel();
  slot = std::make_unique<LobbySession>(executor_, std::move(l).value(), epoch);
  arm_lobby_timer(*slot);
  spdlog::info("lobby {}: started here from a handed-off state (epoch {})", code, epoch);
  return Ok{};
}

void SessionHost::remove(const std::string& key) {
  const auto k = SessionKey::parse(key);
  if (!k) return;
  if (k->is_game()) {
    auto it = games_.find(k->id);
    if (it == games_.end()) return;
    it->second->round_timer.cancel();
    games_.erase(it);
  } else {
    auto it = lobbies_.find(k->id);
    if (it == lobbies_.end()) return;
    it->second->expiry_timer.cancel();
    lobbies_.erase(it);
  }
}

void SessionHost::set_frozen(const std::string& key, bool frozen) {
  const auto k = SessionKey::parse(key);
  if (!k) return;
  if (!k->is_game()) {
    auto it = lobbies_.find(k->id);
    if (it == lobbies_.end()) return;
    it->second->frozen = frozen;
    if (frozen) {
      it->second->expiry_timer.cancel();
    } else {
      arm_lobby_timer(*it->second);
    }
    return;
  }
  auto it = games_.find(k->id);
  if (it == games_.end()) return;
  it->second->frozen = frozen;
  if (frozen) {
    it->second->round_timer.cancel();
  } else {
    arm_round_timer(*it->second);
  }
}

bool SessionHost::frozen(const std::string& key) const {
  const auto k = SessionKey::parse(key);
  if (!k) return false;
  if (!k->is_game()) {
    auto it = lobbies_.find(k->id);
    return it != lobbies_.end() && it->second->frozen;
  }
  auto it = games_.find(k->id);
  return it != games_.end() && it->second->frozen;
}

void SessionHost::deliver(const GameView& v) {
  auto it = listeners_.find(v.game.id);
  if (it == listeners_.end()) return;
  const auto listeners = it->second;
  for (const auto& [id, fn] : listeners) fn(v);
}

std::uint64_t SessionHost::subscribe(const std::string& game_id, GameListener listener) {
  const std::uint64_t id = next_listener_id_++;
  listeners_[game_id][id] = listener;
  if (auto it = games_.find(game_id); it != games_.end()) listener(view(*it->second));
  return id;
}

void SessionHost::unsubscribe(const std::string& game_id, std::uint64_t id) {
  auto it = listeners_.find(game_id);
  if (it == listeners_.end()) return;
  it->second.erase(id);
  if (it->second.empty()) listeners_.erase(it);
}

}  // namespace minotaur::sessions
