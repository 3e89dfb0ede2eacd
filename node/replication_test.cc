// A crash loses nothing acknowledged under --replication sync (docs/SPEC.md guarantee 2): real node
// processes, one of them killed with SIGKILL while it hosts games.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

#include "sessions/placement.h"
#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::ClusterHarness;
using testing::NodeSpec;

std::string game_json(const std::string& id, const std::string& u1, const std::string& u2) {
  return testing::game_json(id, {{1, u1, "P1", 0, 0}, {2, u2, "P2", 1, 0}});
}

void crash_loses_nothing_acknowledged(const std::string& replication) {
  ClusterHarness c;
  const std::vector<std::string> sync_args{"--replication", replication};
  const auto n1 = c.start(NodeSpec("n1").args(sync_args));
  const auto n2 = c.start(NodeSpec("n2").args(sync_args));
  const auto n3 = c.start(NodeSpec("n3").args(sync_args));
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    for (auto n : {n1, n2, n3}) {
      if (c.members_seen_by(n).size() != 3) return false;
    }
    return true;
  }));
  const auto [u1, t1] = c.new_user(n1, "P1");
  const auto [u2, t2] = c.new_user(n1, "P2");
  // Games hosted by n2, written through n1 (forwarded), each with acknowledged changes.
  std::map<std::string, std::int64_t> acked_version;
  for (int i = 0; acked_version.size() < 8; ++i) {
    const std::string id = "g_crash" + std::to_string(i);
    if (sessions::owner_of(sessions::game_key(id), {"n1", "n2", "n3"}) != "n2") continue;
    ASSERT_EQ(
        c.request(n1, "POST", "/api/v1/games", game_json(id, u1, u2), ClusterHarness::kAdminToken)
            .status,
        201);
    const auto a = c.request(n1, "POST", "/api/v1/games/" + id + "/actions",
                             R"({"type":"attack","target_player_id":2})", t1);
    ASSERT_EQ(a.status, 200) << a.body;
    const auto e = c.request(n3, "POST", "/api/v1/games/" + id + "/end_round", "",
                             ClusterHarness::kAdminToken);
    ASSERT_EQ(e.status, 200) << e.body;
    const auto m = c.request(n1, "POST", "/api/v1/games/" + id + "/actions",
                             R"({"type":"move","vector":{"q":0,"r":1}})", t2);
    ASSERT_EQ(m.status, 200) << m.body;
    EXPECT_EQ(m.json().at("node").as_string(), "n2");
    acked_version[id] = m.json().at("version").as_int64();
  }
  c.stop(n2, SIGKILL);
  for (const auto& [id, version] : acked_version) {
    json::value g;
    ASSERT_TRUE(ClusterHarness::eventually(
        [&] {
          const auto r = c.request(n1, "GET", "/api/v1/games/" + id);
          if (r.status != 200) return false;
          g = r.json();
          return g.at("node").as_string() != "n2";
        },
        10s))
        << id << " was not served again after its node was killed";
    EXPECT_EQ(g.at("version").as_int64(), version) << id << ": an acknowledged change was lost";
    EXPECT_EQ(g.at("round").as_int64(), 2) << id;
    EXPECT_EQ(g.at("registered_actions").as_array().size(), 1u) << id;
    EXPECT_GE(g.at("epoch").as_int64(), 2) << id;
  }
}

TEST(Replication, ACrashLosesNothingAcknowledgedUnderSyncReplication) {
  crash_loses_nothing_acknowledged("sync");
}

TEST(Replication, ALoneNodeRefusesChangesUnderSyncReplication) {
  ClusterHarness c;
  const auto n1 = c.start(NodeSpec("n1").args({"--replication", "sync"}));
  const auto [u1, t1] = c.new_user(n1, "P1");
  const auto [u2, t2] = c.new_user(n1, "P2");
  const auto r = c.request(n1, "POST", "/api/v1/games", game_json("g_alone", u1, u2),
                           ClusterHarness::kAdminToken);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("no_replica"), std::string::npos) << r.body;
  EXPECT_EQ(c.request(n1, "GET", "/api/v1/games/g_alone").status, 404);  // nothing changed
  // With a second node the same call succeeds.
  const auto n2 = c.start(NodeSpec("n2").args({"--replication", "sync"}));
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.status_seen_by(n1, "n2") == "up"; }));
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    return c.request(n2, "POST", "/api/v1/games", game_json("g_alone", u1, u2),
                     ClusterHarness::kAdminToken)
               .status == 201;
  }));
}

}  // namespace
}  // namespace minotaur
