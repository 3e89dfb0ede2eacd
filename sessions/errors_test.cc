// The table of errors: one row per code, the statuses docs/SPEC.md section 3 promises, the rules'
// refusals, and errors as they travel between nodes.
#include "sessions/errors.h"

#include <gtest/gtest.h>

#include "sessions/router_wire.h"

namespace minotaur::sessions {
namespace {

constexpr int kCodes = static_cast<int>(ErrorCode::kBadReply) + 1;

TEST(ErrorsTest, EveryCodeHasANameAStatusAndAMessage) {
  for (int i = 0; i < kCodes; ++i) {
    const ErrorInfo& row = info(static_cast<ErrorCode>(i));
    EXPECT_FALSE(row.name.empty()) << i;
    EXPECT_GE(row.http_status, 400) << row.name;
    EXPECT_LT(row.http_status, 600) << row.name;
    EXPECT_GT(row.message.size(), 20u) << row.name;
    // Another node's error is found again by its name and kind.
    EXPECT_EQ(error_code_named(row.name, row.kind), row.code) << row.name;
  }
}

// docs/SPEC.md section 3: what each code answers over HTTP.
TEST(ErrorsTest, TheStatusesTheSpecPromises) {
  const std::pair<ErrorCode, int> promised[] = {
      {ErrorCode::kBadRequest, 400},         {ErrorCode::kInvalidGame, 400},
      {ErrorCode::kMalformedRequest, 400},   {ErrorCode::kUnauthorized, 401},
      {ErrorCode::kNotAPlayer, 403},         {ErrorCode::kNotHost, 403},
      {ErrorCode::kAdminOnly, 403},          {ErrorCode::kResetDisabled, 403},
      {ErrorCode::kGameNotFound, 404},       {ErrorCode::kLobbyNotFound, 404},
      {ErrorCode::kNotFound, 404},           {ErrorCode::kMemberNotFound, 404},
      {ErrorCode::kMethodNotAllowed, 405},   {ErrorCode::kNoActionPoints, 409},
      {ErrorCode::kTargetOutOfRange, 409},   {ErrorCode::kGameOver, 409},
      {ErrorCode::kAlreadyMember, 409},      {ErrorCode::kGameExists, 409},
      {ErrorCode::kMemberAlive, 409},        {ErrorCode::kRemovalNeedsQuorum, 409},
      {ErrorCode::kLengthRequired, 411},     {ErrorCode::kTooLarge, 413},
      {ErrorCode::kRateLimited, 429},        {ErrorCode::kUnknownMethod, 501},
      {ErrorCode::kNodeStopping, 503},       {ErrorCode::kOwnerUnreachable, 503},
      {ErrorCode::kSessionBusy, 503},        {ErrorCode::kNoReplica, 503},
      {ErrorCode::kNotReplicated, 503},      {ErrorCode::kStorageUnavailable, 503},
      {ErrorCode::kPlacementUnsettled, 503}, {ErrorCode::kNoQuorum, 503},
      {ErrorCode::kSessionMoving, 503},      {ErrorCode::kSessionStarting, 503},
      {ErrorCode::kNoServingNode, 503},      {ErrorCode::kResetIncomplete, 503},
      {ErrorCode::kMembershipChanging, 503}, {ErrorCode::kTooManyConnections, 503},
  };
  for (const auto& [code, status] : promised) {
    EXPECT_EQ(info(code).http_status, status) << info(code).name;
  }
  // One name, two rows: a call held without the quorum, a removal refused without it.
  EXPECT_EQ(info(ErrorCode::kNoQuorum).name, "no_quorum");
  EXPECT_EQ(info(ErrorCode::kRemovalNeedsQuorum).name, "no_quorum");
}

TEST(ErrorsTest, TheRulesRefusalsAreForbiddenOrConflicts) {
  for (int i = 0; i <= static_cast<int>(game::ActionError::kTargetOutOfRange); ++i) {
    const SessionError e = rule_error(static_cast<game::ActionError>(i));
    EXPECT_EQ(e.message, info(e.code).message);
    const bool forbidden = e.code == ErrorCode::kNotAPlayer;
    EXPECT_EQ(e.kind(), forbidden ? ErrorKind::kForbidden : ErrorKind::kConflict) << e.name();
  }
  for (int i = 0; i <= static_cast<int>(game::LobbyError::kAlreadyStarted); ++i) {
    const SessionError e = rule_error(static_cast<game::LobbyError>(i));
    const bool forbidden = e.code == ErrorCode::kNotHost;
    EXPECT_EQ(e.kind(), forbidden ? ErrorKind::kForbidden : ErrorKind::kConflict) << e.name();
  }
  EXPECT_EQ(rule_error(game::ActionError::kNoActionPoints).name(), "no_action_points");
}

TEST(ErrorsTest, AnErrorTravelsBetweenNodesAsKindNameAndMessage) {
  const SessionError sent{ErrorCode::kRemovalNeedsQuorum, "ask n1"};
  const v1::Error m = wire::to_proto(sent);
  EXPECT_EQ(m.kind(), 3);  // ErrorKind::kConflict, as nodes of every version number it
  EXPECT_EQ(m.code(), "no_quorum");
  const SessionError got = wire::from_proto(m);
  EXPECT_EQ(got.code, ErrorCode::kRemovalNeedsQuorum);
  EXPECT_EQ(got.message, "ask n1");

  v1::Error newer = m;
  newer.set_code("a_code_of_a_newer_node");
  EXPECT_EQ(wire::from_proto(newer).code, ErrorCode::kBadReply);
  newer.set_kind(17);
  EXPECT_EQ(wire::from_proto(newer).code, ErrorCode::kBadReply);
}

}  // namespace
}  // namespace minotaur::sessions
