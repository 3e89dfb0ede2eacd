#include "sessions/router_wire.h"

#include <fmt/format.h>

#include "proto/codec.h"
#include "sessions/session_key.h"

namespace minotaur::sessions::wire {

v1::Caller to_proto(const Caller& c) {
  v1::Caller m;
  m.set_user_id(c.user_id);
  m.set_display_name(c.display_name);
  m.set_admin(c.admin);
  return m;
}

Caller from_proto(const v1::Caller& m) {
  return Caller{m.user_id(), m.display_name(), m.admin()};
}

v1::GameView to_proto(const GameView& v) {
  v1::GameView m;
  m.set_game(proto::encode_game(v.game));
  m.set_node(v.node);
  m.set_epoch(v.epoch);
  return m;
}

Result<GameView, std::string> from_proto(const v1::GameView& m) {
  auto g = proto::decode_game(m.game());
  if (!g) return err(g.error());
  return GameView{std::move(g).value(), m.node(), m.epoch()};
}

v1::Error to_proto(const SessionError& e) {
  v1::Error m;
  m.set_kind(static_cast<int>(e.kind()));
  m.set_code(std::string(e.name()));
  m.set_message(e.message);
  return m;
}

SessionError from_proto(const v1::Error& m) {
  const bool kind_known = m.kind() >= 0 && m.kind() <= static_cast<int>(ErrorKind::kUnavailable);
  const auto code =
      kind_known ? error_code_named(m.code(), static_cast<ErrorKind>(m.kind())) : std::nullopt;
  if (!code) {
    return SessionError{ErrorCode::kBadReply,
                        fmt::format("another node answered with an error this node does not know "
                                    "({}: {}); is it a newer version?",
                                    m.code(), m.message())};
  }
  return SessionError{*code, m.message()};
}

// The key of the session a request is about.
std::string key_of(const v1::Request& r) {
  switch (r.op_case()) {
    case v1::Request::kGetGame:
      return game_key(r.get_game());
    case v1::Request::kAct:
      return game_key(r.act().game_id());
    case v1::Request::kEndRound:
      return game_key(r.end_round().game_id());
    case v1::Request::kCreateGame: {
      auto g = proto::decode_game(r.create_game());
      return g ? game_key(g.value().id) : std::string();
    }
    case v1::Request::kCreateLobby:
      return lobby_key(r.create_lobby().join_code());
    case v1::Request::kJoinLobby:
      return lobby_key(r.join_lobby().join_code());
    case v1::Request::kStartLobby:
      return lobby_key(r.start_lobby().join_code());
    case v1::Request::kGetLobby:
      return lobby_key(r.get_lobby());
    default:
      return {};
  }
}

bool mutates(const v1::Request& r) {
  return r.op_case() != v1::Request::kGetGame && r.op_case() != v1::Request::kGetLobby;
}

bool creates(const v1::Request& r) {
  return r.op_case() == v1::Request::kCreateGame || r.op_case() == v1::Request::kCreateLobby;
}

}  // namespace minotaur::sessions::wire
