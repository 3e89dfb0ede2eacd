#include "sessions/errors.h"

#include <array>

#include "base/assert.h"

namespace minotaur::sessions {
namespace {

using C = ErrorCode;
using K = ErrorKind;

// One row per ErrorCode, in its order (checked below).
constexpr std::array kTable{
    // clang-format off
    ErrorInfo{C::kBadRequest, "bad_request", K::kBadRequest, 400,
              "the request is not what this call takes; see docs/SPEC.md section 3"},
    ErrorInfo{C::kInvalidGame, "invalid_game", K::kBadRequest, 400,
              "the game breaks the rules of docs/SPEC.md section 1; fix it and send it again"},
    ErrorInfo{C::kMalformedRequest, "malformed_request", K::kBadRequest, 400,
              "the request is not valid HTTP/1.1; send a well-formed one"},
    ErrorInfo{C::kUnauthorized, "unauthorized", K::kForbidden, 401,
              "send 'Authorization: Bearer TOKEN' with a token from POST /api/v1/users"},
    ErrorInfo{C::kNotAPlayer, "not_a_player", K::kForbidden, 403,
              "you have no character in this game; join it through its lobby"},
    ErrorInfo{C::kNotHost, "not_host", K::kForbidden, 403,
              "only the lobby's host can start the game"},
    ErrorInfo{C::kAdminOnly, "admin_only", K::kForbidden, 403,
              "this call takes the admin token"},
    ErrorInfo{C::kResetDisabled, "reset_disabled", K::kForbidden, 403,
              "a node was not started with --allow-reset; only test clusters reset, and every "
              "node of one needs the flag"},
    ErrorInfo{C::kNotFound, "not_found", K::kNotFound, 404,
              "no such API path; see docs/SPEC.md section 3 for the endpoints"},
    ErrorInfo{C::kGameNotFound, "game_not_found", K::kNotFound, 404,
              "no such game; check the id, or start a game from a lobby"},
    ErrorInfo{C::kLobbyNotFound, "lobby_not_found", K::kNotFound, 404,
              "no such lobby; check the join code with its host"},
    ErrorInfo{C::kMemberNotFound, "member_not_found", K::kNotFound, 404,
              "no member of that name in this node's table; see GET /api/v1/cluster"},
    ErrorInfo{C::kMethodNotAllowed, "method_not_allowed", K::kBadRequest, 405,
              "this path does not take that method; see docs/SPEC.md section 3"},
    ErrorInfo{C::kGameOver, "game_over", K::kConflict, 409,
              "the game is over; start a new game from a lobby"},
    ErrorInfo{C::kPlayerEliminated, "player_eliminated", K::kConflict, 409,
              "your character has been eliminated and can no longer act"},
    ErrorInfo{C::kNoActionPoints, "no_action_points", K::kConflict, 409,
              "your character has no action point this round; wait for the next round"},
    ErrorInfo{C::kNotAUnitVector, "not_a_unit_vector", K::kConflict, 409,
              "a move must be one of the six unit vectors (1,0) (1,-1) (0,-1) (-1,0) (-1,1) (0,1)"},
    ErrorInfo{C::kOffBoard, "off_board", K::kConflict, 409,
              "that move leads off the board; choose another direction"},
    ErrorInfo{C::kUnknownTarget, "unknown_target", K::kConflict, 409,
              "no player with that id in this game; pick a target from the game's players"},
    ErrorInfo{C::kTargetIsSelf, "target_is_self", K::kConflict, 409,
              "you cannot attack yourself; pick another player"},
    ErrorInfo{C::kTargetEliminated, "target_eliminated", K::kConflict, 409,
              "that player is already eliminated; pick a living player"},
    ErrorInfo{C::kTargetOutOfRange, "target_out_of_range", K::kConflict, 409,
              "that player is not within distance 1; move closer first"},
    ErrorInfo{C::kLobbyFull, "lobby_full", K::kConflict, 409,
              "the lobby already has 8 players; create a new lobby"},
    ErrorInfo{C::kAlreadyMember, "already_member", K::kConflict, 409,
              "you are already in this lobby"},
    ErrorInfo{C::kNotEnoughPlayers, "not_enough_players", K::kConflict, 409,
              "a game needs at least 2 players; share the join code and wait for someone to join"},
    ErrorInfo{C::kAlreadyStarted, "already_started", K::kConflict, 409,
              "this lobby has started its game already; open the game or create a new lobby"},
    ErrorInfo{C::kGameExists, "game_exists", K::kConflict, 409,
              "a game with that id exists already; choose another id"},
    ErrorInfo{C::kJoinCodeTaken, "join_code_taken", K::kConflict, 409,
              "that join code is in use; pick another"},
    ErrorInfo{C::kMemberAlive, "member_alive", K::kConflict, 409,
              "that member is this node, or was heard from within the failure bound; stop it "
              "first"},
    ErrorInfo{C::kRemovalNeedsQuorum, "no_quorum", K::kConflict, 409,
              "this node holds no quorum, so it cannot tell a member that is gone from one that "
              "serves on the other side of a cut; ask a node that holds the quorum"},
    ErrorInfo{C::kTooManySubscriptions, "too_many_subscriptions", K::kConflict, 409,
              "unsubscribe from a game before subscribing to another"},
    ErrorInfo{C::kLengthRequired, "length_required", K::kBadRequest, 411,
              "this node takes a request body only with a Content-Length header, not with "
              "Transfer-Encoding (chunked); send the body whole, with its length"},
    ErrorInfo{C::kTooLarge, "too_large", K::kBadRequest, 413,
              "the request (its header or its body) is larger than this node accepts; send a "
              "smaller one (docs/SPEC.md section 3 lists the limits)"},
    ErrorInfo{C::kRateLimited, "rate_limited", K::kUnavailable, 429,
              "too many requests from this client; slow down"},
    ErrorInfo{C::kTooManyCalls, "too_many_calls", K::kUnavailable, 429,
              "too many actions in flight on this socket; wait for answers before sending more"},
    ErrorInfo{C::kUnknownMethod, "unknown_method", K::kBadRequest, 501,
              "this node serves GET, HEAD, POST and OPTIONS; send one of those"},
    ErrorInfo{C::kNodeStopping, "node_stopping", K::kUnavailable, 503,
              "this node is shutting down; send the request to another node"},
    ErrorInfo{C::kNodeFull, "node_full", K::kUnavailable, 503,
              "this node hosts as many sessions as it may; try again later"},
    ErrorInfo{C::kTooManyConnections, "too_many_connections", K::kUnavailable, 503,
              "this node has too many open connections; retry or use another node"},
    ErrorInfo{C::kOverloaded, "overloaded", K::kUnavailable, 503,
              "this node could not take the request now; retry, or use another node"},
    ErrorInfo{C::kSessionBusy, "session_busy", K::kUnavailable, 503,
              "too many calls are waiting for this session while it moves; retry in a moment"},
    ErrorInfo{C::kSessionMoving, "session_moving", K::kUnavailable, 503,
              "the session is still moving to its new owner; retry"},
    ErrorInfo{C::kSessionStarting, "session_starting", K::kUnavailable, 503,
              "the session was just started on this node from the replicated store and no other "
              "node has confirmed it yet; retry in a moment"},
    ErrorInfo{C::kNoServingNode, "no_serving_node", K::kUnavailable, 503,
              "no node of the cluster serves sessions right now; retry"},
    ErrorInfo{C::kPlacementUnsettled, "placement_unsettled", K::kUnavailable, 503,
              "the cluster's nodes disagree on where this session lives; retry in a moment"},
    ErrorInfo{C::kOwnerUnreachable, "owner_unreachable", K::kUnavailable, 503,
              "the node that hosts this session did not answer; retry in a moment"},
    ErrorInfo{C::kNoQuorum, "no_quorum", K::kUnavailable, 503,
              "this node is cut off from most of the cluster and accepts no change now (another "
              "node may own the game); retry in a moment"},
    ErrorInfo{C::kNoReplica, "no_replica", K::kUnavailable, 503,
              "no other node is reachable to replicate this change (--replication sync); retry "
              "when the cluster is whole"},
    ErrorInfo{C::kNotReplicated, "not_replicated", K::kUnavailable, 503,
              "the change was not acknowledged by the other nodes in time and may be lost if "
              "this node fails; check the game and retry"},
    ErrorInfo{C::kStorageUnavailable, "storage_unavailable", K::kUnavailable, 503,
              "this node cannot write to its data dir (the disk is full or failing), so it takes "
              "no change it could not keep; retry in a moment or through another node"},
    ErrorInfo{C::kNoJoinCode, "no_join_code", K::kUnavailable, 503,
              "no free join code was found; try again"},
    ErrorInfo{C::kResetIncomplete, "reset_incomplete", K::kUnavailable, 503,
              "a node did not answer the reset, so some sessions may be left; retry"},
    ErrorInfo{C::kMembershipChanging, "membership_changing", K::kUnavailable, 503,
              "the last membership change has not reached every member yet; retry in a moment"},
    ErrorInfo{C::kBadReply, "bad_reply", K::kUnavailable, 503,
              "another node sent an answer this node cannot read; is it a newer version?"},
    // clang-format on
};

constexpr bool in_order() {
  for (std::size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<std::size_t>(kTable[i].code) != i) return false;
  }
  return kTable.back().code == ErrorCode::kBadReply;  // the last enumerator: no row is missing
}
static_assert(in_order(), "kTable has one row per ErrorCode, in the enum's order");

ErrorCode code_of(game::ActionError e) {
  switch (e) {
    case game::ActionError::kGameOver:
      return C::kGameOver;
    case game::ActionError::kNotAPlayer:
      return C::kNotAPlayer;
    case game::ActionError::kPlayerEliminated:
      return C::kPlayerEliminated;
    case game::ActionError::kNoActionPoints:
      return C::kNoActionPoints;
    case game::ActionError::kNotAUnitVector:
      return C::kNotAUnitVector;
    case game::ActionError::kOffBoard:
      return C::kOffBoard;
    case game::ActionError::kUnknownTarget:
      return C::kUnknownTarget;
    case game::ActionError::kTargetIsSelf:
      return C::kTargetIsSelf;
    case game::ActionError::kTargetEliminated:
      return C::kTargetEliminated;
    case game::ActionError::kTargetOutOfRange:
      return C::kTargetOutOfRange;
  }
  ::minotaur::assert_fail("an ActionError without a row", __FILE__, __LINE__);
}

ErrorCode code_of(game::LobbyError e) {
  switch (e) {
    case game::LobbyError::kLobbyFull:
      return C::kLobbyFull;
    case game::LobbyError::kAlreadyMember:
      return C::kAlreadyMember;
    case game::LobbyError::kNotHost:
      return C::kNotHost;
    case game::LobbyError::kNotEnoughPlayers:
      return C::kNotEnoughPlayers;
    case game::LobbyError::kAlreadyStarted:
      return C::kAlreadyStarted;
  }
  ::minotaur::assert_fail("a LobbyError without a row", __FILE__, __LINE__);
}

}  // namespace

const ErrorInfo& info(ErrorCode code) {
  const auto i = static_cast<std::size_t>(code);
  MINOTAUR_ASSERT(i < kTable.size());
  return kTable[i];
}

std::optional<ErrorCode> error_code_named(std::string_view name, ErrorKind kind) {
  for (const ErrorInfo& row : kTable) {
    if (row.name == name && row.kind == kind) return row.code;
  }
  return std::nullopt;
}

SessionError rule_error(game::ActionError e) {
  return SessionError(code_of(e));
}

SessionError rule_error(game::LobbyError e) {
  return SessionError(code_of(e));
}

}  // namespace minotaur::sessions
