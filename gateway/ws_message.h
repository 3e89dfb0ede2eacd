// The messages a WebSocket client sends (docs/SPEC.md section 3, "WebSocket"): decoded and
// checked before the server acts on one. Pure: text in, a command or a refusal out.
//
//   {"op":"subscribe","game_id":"g_1"}       {"op":"unsubscribe","game_id":"g_1"}
//   {"op":"act","id":7,"game_id":"g_1","action":{...},"token":"..."}   (id and token optional)
//
// The action is passed on as JSON: the API's action reader checks it, as for the HTTP call.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "sessions/errors.h"

namespace minotaur::gateway {

struct WsCommand {
  enum class Op { kSubscribe, kUnsubscribe, kAct };
  Op op = Op::kSubscribe;
  std::string game_id;
  std::optional<std::int64_t> id;    // echoed in the answer
  std::optional<std::string> token;  // kAct: acts for this token's user instead of the socket's
  boost::json::value action;         // kAct only
};

struct WsRefusal {
  sessions::ErrorCode code;
  std::string message;
  std::optional<std::int64_t> id;  // the message's "id", when it had a valid one
};

Result<WsCommand, WsRefusal> parse_ws_message(std::string_view text);

}  // namespace minotaur::gateway
