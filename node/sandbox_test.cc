// Test isolation on a shared cluster (the journal's SessionSandbox + reset_all): a reset drops
// every game, lobby and stash of the cluster, and only a cluster started for it resets.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "sessions/placement.h"
#include "testing/cluster_harness.h"
#include "testing/session_sandbox.h"

namespace minotaur {
namespace {

using testing::ClusterHarness;

const std::string kAdmin = ClusterHarness::kAdminToken;

// Creates game `id` of two new players and ends one round of it; returns its round then.
std::int64_t play_one_round(ClusterHarness& c, std::size_t node, const std::string& id) {
  const auto [u1, t1] = c.new_user(node, "P1");
  const auto [u2, t2] = c.new_user(node, "P2");
  const auto created =
      c.request(node, "POST", "/api/v1/games",
                testing::game_json(id, {{1, u1, "P1", -1, 0}, {2, u2, "P2", 1, 0}}), kAdmin);
  EXPECT_EQ(created.status, 201) << created.body;  // 409 game_exists: an earlier test's game
  if (created.status != 201) return 0;
  EXPECT_EQ(created.json().at("round").as_int64(), 1);
  const auto ended = c.request(node, "POST", "/api/v1/games/" + id + "/end_round", "", kAdmin);
  EXPECT_EQ(ended.status, 200) << ended.body;
  return ended.status == 200 ? ended.json().at("round").as_int64() : 0;
}

// Two tests of one suite use the same game id, each through another node. Run in one process
// (the binary on its own), the second finds no trace of the first: SetUp reset the cluster.
class Sandbox : public testing::SessionSandbox {};

TEST_F(Sandbox, OneTestPlaysGameSame) {
  EXPECT_EQ(play_one_round(cluster(), node(0), "g_same"), 2);
}

TEST_F(Sandbox, AnotherTestPlaysGameSameAfresh) {
  EXPECT_EQ(play_one_round(cluster(), node(1), "g_same"), 2);
}

// What a reset does, checked within one test: every game and lobby is gone from every node, and
// from the replicated store — a node that crashes afterwards leaves nothing to be picked up.
TEST(Reset, DropsEveryGameLobbyAndStashOfTheCluster) {
  ClusterHarness c;
  const std::vector<std::string> args = {"--allow-reset", "--replication", "sync"};
  const auto a = c.start(testing::NodeSpec("a").args(args));
  const auto b = c.start(testing::NodeSpec("b").args(args));
  const auto d = c.start(testing::NodeSpec("d").args(args));  // two outlive a crash: a quorum
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(a).size() == 3; }));
  // Games on every node, a lobby.
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(play_one_round(c, a, "g_" + std::to_string(i)), 2);
  }
  const auto [u, t] = c.new_user(a, "Host");
  const auto lobby = c.request(b, "POST", "/api/v1/lobbies", "", t);
  ASSERT_EQ(lobby.status, 201) << lobby.body;
  const std::string code(lobby.json().at("join_code").as_string());

  const auto not_admin = c.request(a, "POST", "/api/v1/admin/reset", "", t);
  EXPECT_EQ(not_admin.status, 403) << not_admin.body;
  EXPECT_EQ(c.request(a, "POST", "/api/v1/admin/reset").status, 401);
  EXPECT_EQ(c.request(a, "GET", "/api/v1/admin/reset", "", kAdmin).status, 405);
  EXPECT_EQ(c.request(a, "GET", "/api/v1/games/g_0").status, 200) << "refused resets changed it";

  const auto reset = c.request(b, "POST", "/api/v1/admin/reset", "", kAdmin);
  ASSERT_EQ(reset.status, 200) << reset.body;
  EXPECT_EQ(reset.json().at("sessions_dropped").as_int64(), 7);  // six games and the lobby
  for (auto n : {a, b, d}) {
    for (int i = 0; i < 6; ++i) {
      EXPECT_EQ(c.request(n, "GET", "/api/v1/games/g_" + std::to_string(i)).status, 404);
    }
    EXPECT_EQ(c.request(n, "GET", "/api/v1/lobbies/" + code).status, 404);
  }

  // The stashes are gone too: the crash of a node leaves the others nothing to start from.
  c.stop(a, SIGKILL);
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.status_seen_by(b, "a") == "down"; },
                                         std::chrono::seconds(15)))
      << "b never declared a down";
  for (int i = 0; i < 6; ++i) {
    for (auto n : {b, d}) {
      const auto r = c.request(n, "GET", "/api/v1/games/g_" + std::to_string(i));
      EXPECT_EQ(r.status, 404) << "g_" << i << " came back from the store: " << r.body;
    }
  }
}

// A cluster not started for tests refuses, and changes nothing; so does one where a single node
// lacks the flag (its sessions would survive the reset).
TEST(Reset, IsRefusedWithoutAllowReset) {
  ClusterHarness c;
  const auto a = c.start(testing::NodeSpec("a").args({"--allow-reset"}));
  const auto b = c.start("b");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(a).size() == 2; }));
  ASSERT_EQ(play_one_round(c, a, "g_kept"), 2);
  for (auto n : {a, b}) {
    const auto r = c.request(n, "POST", "/api/v1/admin/reset", "", kAdmin);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_NE(r.body.find("reset_disabled"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("--allow-reset"), std::string::npos) << r.body;
  }
  EXPECT_EQ(c.request(b, "GET", "/api/v1/games/g_kept").status, 200);
}

}  // namespace
}  // namespace minotaur
