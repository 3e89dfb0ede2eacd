// The router's calls: the public ones (each routed to its session's owner) and their execution
// on this node's host when it is the owner, and the reset of test clusters.
#include <fmt/format.h>

#include <random>

#include "base/assert.h"
#include "game/join_code.h"
#include "game/validate.h"
#include "proto/codec.h"
#include "sessions/placement.h"
#include "sessions/router.h"
#include "sessions/router_wire.h"

namespace minotaur::sessions {

using wire::from_proto;
using wire::to_proto;

asio::awaitable<Router::CallResult> Router::execute_local(const v1::Request& r) {
  Outcome out;
  switch (r.op_case()) {
    case v1::Request::kGetGame: {
      auto v = host_.get_game(r.get_game());
      if (!v) co_return err(v.error());
      out.game = std::move(v).value();
      co_return out;
    }
    case v1::Request::kAct: {
      game::Action action;
      if (r.act().action_case() == v1::Act::kMove) {
        action = game::Move{game::Hex{r.act().move().q(), r.act().move().r()}};
      } else {
        action = game::Attack{r.act().attack_target_player_id()};
      }
      auto v = host_.act(r.act().game_id(), from_proto(r.act().caller()), action);
      if (!v) co_return err(v.error());
      out.game = std::move(v).value();
      co_return out;
    }
    case v1::Request::kEndRound: {
      auto v =
          host_.end_round(r.end_round().game_id(), from_proto(r.end_round().caller()));
      if (!v) co_return err(v.error());
      out.game = std::move(v).value();
      co_return out;
    }
    case v1::Request::kCreateGame: {
      auto g = proto::decode_game(r.create_game());
      if (!g) {
        co_return err(SessionError{ErrorCode::kInvalidGame, g.error()});
      }
      auto v = host_.create_game(std::move(g).value());
      if (!v) co_return err(v.error());
      core_.created(game_key(v.value().game.id));
      out.game = std::move(v).value();
      co_return out;
    }
    case v1::Request::kCreateLobby: {
      auto l = host_.create_lobby(from_proto(r.create_lobby().host()),
                                           r.create_lobby().join_code());
      if (!l) co_return err(l.error());
      core_.changed(lobby_key(l.value().join_code));
      core_.created(lobby_key(l.value().join_code));
      out.lobby = std::move(l).value();
      co_return out;
    }
    case v1::Request::kJoinLobby: {
      auto l = host_.join_lobby(r.join_lobby().join_code(),
                                         from_proto(r.join_lobby().caller()));
      if (!l) co_return err(l.error());
      core_.changed(lobby_key(l.value().join_code));
      out.lobby = std::move(l).value();
      co_return out;
    }
    case v1::Request::kStartLobby: {
      auto g = host_.start_lobby(r.start_lobby().join_code(),
                                          from_proto(r.start_lobby().caller()));
      if (!g) co_return err(g.error());
      core_.changed(lobby_key(r.start_lobby().join_code()));
      // The game lives where placement puts it, which is seldom here.
      v1::Request create;
      create.set_create_game(proto::encode_game(g.value()));
      auto created = co_await route(game_key(g.value().id), create);
      if (!created) co_return err(created.error());
      out.game_id = g.value().id;
      co_return out;
    }
    case v1::Request::kGetLobby: {
      auto l = host_.get_lobby(r.get_lobby());
      if (!l) co_return err(l.error());
      out.lobby = std::move(l).value();
      co_return out;
    }
    default:
      co_return err(
          SessionError{ErrorCode::kBadRequest, "unknown request; is a newer node sending it?"});
  }
}

Result<std::uint64_t, SessionError> Router::reset_here(bool check_only) {
  if (!allow_reset_) {
    return err(SessionError{
        ErrorCode::kResetDisabled,
        fmt::format("node {} was not started with --allow-reset; only test clusters reset, and "
                    "every node of one needs the flag",
                    self_)});
  }
  if (check_only) return 0;
  const std::size_t dropped = core_.reset();
  carry_out();
  return static_cast<std::uint64_t>(dropped);
}

// Twice round the cluster: first every node is asked whether it may reset, so that a refusal
// changes nothing; then every node resets.
asio::awaitable<Result<std::uint64_t, SessionError>> Router::reset_all() {
  const std::vector<std::string> members = core_.serving();
  std::uint64_t dropped = 0;
  for (const bool check_only : {true, false}) {
    auto here = reset_here(check_only);
    if (!here) co_return err(here.error());
    dropped += here.value();
    for (const std::string& member : members) {
      if (member == self_) continue;
      // As a forwarded call: asked again until the call's time is up (a connection that breaks
      // loses what was on it). Resetting twice is resetting once.
      const std::int64_t deadline = now_ms() + NodeCore::kCallTimeoutMs;
      std::optional<v1::Reply> reply;
      while (!reply && now_ms() < deadline) {
        v1::Request r;
        r.mutable_reset()->set_check_only(check_only);
        reply = co_await forward(member, std::move(r));
        if (!reply) co_await wait("", std::min(deadline, now_ms() + 100));
      }
      if (!reply) {
        co_return err(SessionError{
            ErrorCode::kResetIncomplete,
            fmt::format("node {} did not answer the reset{}; retry", member,
                        check_only ? " (nothing was changed)" : ", so some sessions may be left")});
      }
      if (reply->has_error()) co_return err(from_proto(reply->error()));
      dropped += reply->reset_dropped();
    }
  }
  co_return dropped;
}

// ---- the public calls ------------------------------------------------------------------------

asio::awaitable<Result<GameView, SessionError>> Router::create_game(game::Game g) {
  if (auto ok = game::validate(g); !ok) {
    co_return err(SessionError{ErrorCode::kInvalidGame, ok.error()});
  }
  v1::Request r;
  r.set_create_game(proto::encode_game(g));
  auto out = co_await route(game_key(g.id), std::move(r));
  if (!out) co_return err(out.error());
  co_return std::move(*out.value().game);
}

asio::awaitable<Result<GameView, SessionError>> Router::get_game(std::string id) {
  v1::Request r;
  r.set_get_game(id);
  auto out = co_await route(game_key(id), std::move(r));
  if (!out) co_return err(out.error());
  co_return std::move(*out.value().game);
}

asio::awaitable<Result<GameView, SessionError>> Router::act(std::string id, Caller caller,
                                                            game::Action action) {
  v1::Request r;
  v1::Act* a = r.mutable_act();
  a->set_game_id(id);
  *a->mutable_caller() = to_proto(caller);
  if (const auto* m = std::get_if<game::Move>(&action)) {
    a->mutable_move()->set_q(m->vector.q);
    a->mutable_move()->set_r(m->vector.r);
  } else {
    a->set_attack_target_player_id(std::get<game::Attack>(action).target_player_id);
  }
  auto out = co_await route(game_key(id), std::move(r));
  if (!out) co_return err(out.error());
  co_return std::move(*out.value().game);
}

asio::awaitable<Result<GameView, SessionError>> Router::end_round(std::string id, Caller caller) {
  v1::Request r;
  r.mutable_end_round()->set_game_id(id);
  *r.mutable_end_round()->mutable_caller() = to_proto(caller);
  auto out = co_await route(game_key(id), std::move(r));
  if (!out) co_return err(out.error());
  co_return std::move(*out.value().game);
}

void Router::set_join_code_length(std::size_t letters) {
  MINOTAUR_ASSERT(letters >= game::kMinJoinCodeLength && letters <= game::kMaxJoinCodeLength);
  join_code_length_ = letters;
}

asio::awaitable<Result<game::Lobby, SessionError>> Router::create_lobby(Caller host) {
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string code = game::make_join_code((static_cast<std::uint64_t>(rd()) << 32) ^ rd(),
                                                  join_code_length_);
    v1::Request r;
    *r.mutable_create_lobby()->mutable_host() = to_proto(host);
    r.mutable_create_lobby()->set_join_code(code);
    auto out = co_await route(lobby_key(code), std::move(r));
    if (!out && out.error().code == ErrorCode::kJoinCodeTaken) continue;
    if (!out) co_return err(out.error());
    co_return std::move(*out.value().lobby);
  }
  co_return err(SessionError(ErrorCode::kNoJoinCode));
}

asio::awaitable<Result<game::Lobby, SessionError>> Router::join_lobby(std::string code,
                                                                      Caller caller) {
  v1::Request r;
  r.mutable_join_lobby()->set_join_code(code);
  *r.mutable_join_lobby()->mutable_caller() = to_proto(caller);
  auto out = co_await route(lobby_key(code), std::move(r));
  if (!out) co_return err(out.error());
  co_return std::move(*out.value().lobby);
}

asio::awaitable<Result<std::string, SessionError>> Router::start_lobby(std::string code,
                                                                       Caller caller) {
  v1::Request r;
  r.mutable_start_lobby()->set_join_code(code);
  *r.mutable_start_lobby()->mutable_caller() = to_proto(caller);
  auto out = co_await route(lobby_key(code), std::move(r));
  if (!out) co_return err(out.error());
  co_return std::move(out.value().game_id);
}

asio::awaitable<Result<game::Lobby, SessionError>> Router::get_lobby(std::string code) {
  v1::Request r;
  r.set_get_lobby(code);
  auto out = co_await route(lobby_key(code), std::move(r));
  if (!out) co_return err(out.error());
  co_return std::move(*out.value().lobby);
}

}  // namespace minotaur::sessions
