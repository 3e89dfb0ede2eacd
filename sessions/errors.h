// The API's errors: one table of every error code a node answers with (docs/SPEC.md section 3,
// "Status and error codes"), and SessionError, the value that carries one.
//
// Each row of the table (errors.cc) is a code: its stable machine name (the "code" of the error
// JSON, e.g. "no_action_points"), its kind (what a caller can do about it), its HTTP status and
// a default message that says what to do next. Code compares ErrorCode values, never names, and
// the gateway takes an error's status from the table. The table lives here, in the lowest layer
// that raises API errors, so that the sessions layer, the simulator and the gateway share it; the
// gateway's own codes (HTTP framing, tokens, budgets, WebSocket limits) are rows too.
//
// A name may stand in two rows of different kinds: "no_quorum" is 503 for a call this node
// cannot accept now and 409 for a member removal it cannot decide. Between nodes an error
// travels as kind, name and message (sessions.proto, Error); a pair this build does not know
// (a newer node's code) arrives as bad_reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "game/errors.h"

namespace minotaur::sessions {

// What a caller can do about an error. Travels between nodes as a number: never renumber.
enum class ErrorKind : std::uint8_t {
  kBadRequest = 0,   // the request cannot be right: fix it
  kForbidden = 1,    // the caller may not do this (no valid token, not a player, not the host)
  kNotFound = 2,     // no such game, lobby, member or path
  kConflict = 3,     // the rules refused it (game over, no action points, ...) or it exists
  kUnavailable = 4,  // the node cannot serve it now (full, draining, over a budget): retry
};

// Every row of the table, grouped by HTTP status.
enum class ErrorCode : std::uint8_t {
  // 400, 401, 403
  kBadRequest,
  kInvalidGame,
  kMalformedRequest,
  kUnauthorized,
  kNotAPlayer,
  kNotHost,
  kAdminOnly,
  kResetDisabled,
  // 404, 405
  kNotFound,
  kGameNotFound,
  kLobbyNotFound,
  kMemberNotFound,
  kMethodNotAllowed,
  // 409: the rules of a game (game::ActionError) and of a lobby (game::LobbyError)
  kGameOver,
  kPlayerEliminated,
  kNoActionPoints,
  kNotAUnitVector,
  kOffBoard,
  kUnknownTarget,
  kTargetIsSelf,
  kTargetEliminated,
  kTargetOutOfRange,
  kLobbyFull,
  kAlreadyMember,
  kNotEnoughPlayers,
  kAlreadyStarted,
  // 409: the others
  kGameExists,
  kJoinCodeTaken,  // a lobby's code is in use: the router tries another
  kMemberAlive,
  kRemovalNeedsQuorum,  // "no_quorum" of a member removal
  kTooManySubscriptions,
  // 411, 413, 429, 501
  kLengthRequired,  // a request body sent with Transfer-Encoding rather than Content-Length
  kTooLarge,
  kRateLimited,
  kTooManyCalls,
  kUnknownMethod,
  // 503
  kNodeStopping,
  kNodeFull,
  kTooManyConnections,
  kOverloaded,
  kSessionBusy,
  kSessionMoving,
  kSessionStarting,
  kNoServingNode,
  kPlacementUnsettled,
  kOwnerUnreachable,
  kNoQuorum,
  kNoReplica,
  kNotReplicated,
  kStorageUnavailable,
  kNoJoinCode,
  kResetIncomplete,
  kMembershipChanging,
  kBadReply,
};

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;  // stable: the "code" field of the error JSON
  ErrorKind kind;
  int http_status;
  std::string_view message;  // the default: says what to do next
};

// The row of `code`.
const ErrorInfo& info(ErrorCode code);
// The code with this name and kind (as another node sends them); nullopt when this build has
// none.
std::optional<ErrorCode> error_code_named(std::string_view name, ErrorKind kind);

// Why a session operation did not happen, as a value the gateway turns into an HTTP error.
struct SessionError {
  // With the table's message, or one that says more (names the game, the node, the limit).
  explicit SessionError(ErrorCode c) : code(c), message(info(c).message) {}
  SessionError(ErrorCode c, std::string m) : code(c), message(std::move(m)) {}

  ErrorKind kind() const { return info(code).kind; }
  std::string_view name() const { return info(code).name; }

  ErrorCode code;
  std::string message;
};

// The refusals of the rules, with their rows' messages.
SessionError rule_error(game::ActionError e);
SessionError rule_error(game::LobbyError e);

}  // namespace minotaur::sessions
