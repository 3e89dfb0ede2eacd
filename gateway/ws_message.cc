#include "gateway/ws_message.h"

#include "game/validate.h"
#include "gateway/game_json.h"
#include "gateway/json_fields.h"
#include "gateway/strict_json.h"

namespace minotaur::gateway {

Result<WsCommand, WsRefusal> parse_ws_message(std::string_view text) {
  auto msg = parse_strict_json(text, kMaxJsonDepth);
  if (!msg || !msg.value().is_object()) {
    return err(WsRefusal{sessions::ErrorCode::kBadRequest,
                         "send a JSON object like {\"op\":\"subscribe\",\"game_id\":\"g_...\"}" +
                             (msg ? std::string() : " (" + msg.error() + ")"),
                         std::nullopt});
  }
  const boost::json::object& o = msg.value().get_object();
  const JsonFields f(o, "");
  auto op = f.require_string("op");
  auto game_id = f.require_string("game_id");
  auto call_id = f.optional_int("id", 0, std::int64_t{1} << 53);
  const std::optional<std::int64_t> echo_id = call_id ? call_id.value() : std::nullopt;
  if (!op || !game_id || !game::is_valid_id(game_id.value()) || !call_id) {
    return err(WsRefusal{sessions::ErrorCode::kBadRequest,
                         "each message needs \"op\" (subscribe, unsubscribe or act), a valid "
                         "\"game_id\" and, if any, an \"id\" from 0 to 2^53",
                         echo_id});
  }
  WsCommand c;
  c.game_id = std::move(game_id.value());
  c.id = echo_id;
  if (op.value() == "subscribe") {
    c.op = WsCommand::Op::kSubscribe;
  } else if (op.value() == "unsubscribe") {
    c.op = WsCommand::Op::kUnsubscribe;
  } else if (op.value() == "act") {
    c.op = WsCommand::Op::kAct;
    auto token = f.optional_string("token");
    if (!token) return err(WsRefusal{sessions::ErrorCode::kBadRequest, token.error(), echo_id});
    c.token = std::move(token.value());
    const boost::json::value* action = o.if_contains("action");
    if (action == nullptr) {
      return err(WsRefusal{sessions::ErrorCode::kBadRequest,
                           "\"act\" needs \"action\", e.g. "
                           "{\"type\":\"move\",\"vector\":{\"q\":1,\"r\":0}}",
                           echo_id});
    }
    c.action = *action;
  } else {
    return err(WsRefusal{sessions::ErrorCode::kBadRequest,
                         "op must be \"subscribe\", \"unsubscribe\" or \"act\"", echo_id});
  }
  return c;
}

}  // namespace minotaur::gateway
