// The shared database (`minotaur node --database-url`): real `minotaur node` processes against
// a real PostgreSQL server that the test starts in a temporary folder and stops afterwards
// (tooling/postgres_server.h). The nodes have no data dirs: what outlives them is the database.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>

#include "testing/cluster_harness.h"
#include "tooling/postgres_server.h"

namespace minotaur {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::ClusterHarness;
using testing::NodeSpec;
using tooling::PostgresServer;

const std::string kAdmin = ClusterHarness::kAdminToken;
const std::vector<std::size_t> kNodes = {0, 1, 2};

struct Acked {
  std::int64_t version = 0;
  std::int64_t epoch = 0;
};

class Database : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = PostgresServer::create();
    ASSERT_TRUE(s) << s.error();
    pg_ = std::move(s).value();
  }
  void TearDown() override {
    if (HasFailure() && pg_) std::printf("PostgreSQL's log:\n%s\n", pg_->log_tail().c_str());
  }

  NodeSpec node(const std::string& name, std::vector<std::string> more = {}) const {
    std::vector<std::string> args = {"--database-url", pg_->url()};
    args.insert(args.end(), more.begin(), more.end());
    return NodeSpec(name).args(args);
  }

  void start_three(std::vector<std::string> more = {}) {
    for (const char* name : {"n1", "n2", "n3"}) c_.start(node(name, more));
    ASSERT_TRUE(ClusterHarness::eventually([&] {
      for (std::size_t n : kNodes) {
        if (c_.members_seen_by(n).size() != 3) return false;
      }
      return true;
    }));
  }

  // A metric of a node's /metrics; -1 when it cannot be read.
  std::int64_t metric(std::size_t n, const std::string& name) const {
    const auto r = c_.request(n, "GET", "/metrics");
    const std::string line = "\n" + name + " ";
    const auto at = r.body.find(line);
    if (r.status != 200 || at == std::string::npos) return -1;
    return std::stoll(r.body.substr(at + line.size()));
  }

  // Every node has written every change it owes the database.
  void wait_until_written() {
    ASSERT_TRUE(ClusterHarness::eventually(
        [&] {
          for (std::size_t n : kNodes) {
            if (metric(n, "minotaur_database_queue_length") != 0) return false;
          }
          return true;
        },
        20s))
        << "the database's queue did not drain";
  }

  // Creates `games` games through node `via` and changes each twice; what each last change
  // acknowledged.
  std::map<std::string, Acked> play(std::size_t via, const std::string& prefix, int games) {
    std::map<std::string, Acked> acked;
    const auto [u1, t1] = c_.new_user(via, "P1");
    const std::string u2 = c_.new_user(via, "P2").first;
    for (int i = 0; i < games; ++i) {
      const std::string id = prefix + std::to_string(i);
      const auto created =
          c_.request(via, "POST", "/api/v1/games",
                     testing::game_json(id, {{1, u1, "P1", 0, 0}, {2, u2, "P2", 1, 0}}), kAdmin);
      EXPECT_EQ(created.status, 201) << created.body;
      EXPECT_EQ(c_.request(via, "POST", "/api/v1/games/" + id + "/actions",
                           R"({"type":"attack","target_player_id":2})", t1)
                    .status,
                200);
      const auto m = c_.request(via, "POST", "/api/v1/games/" + id + "/end_round", "", kAdmin);
      EXPECT_EQ(m.status, 200) << m.body;
      if (m.status == 200) {
        acked[id] = Acked{m.json().at("version").as_int64(), m.json().at("epoch").as_int64()};
      }
    }
    return acked;
  }

  // Every game is back with exactly its last acknowledged version (no acknowledged change lost,
  // no refused one kept), at a higher epoch, hosted by exactly one node.
  void expect_every_game_back(const std::map<std::string, Acked>& acked) {
    for (const auto& [id, a] : acked) {
      json::value g;
      ASSERT_TRUE(ClusterHarness::eventually(
          [&] {
            const auto r = c_.request(1, "GET", "/api/v1/games/" + id);
            if (r.status != 200) return false;
            g = r.json();
            return true;
          },
          20s))
          << id << " did not come back";
      EXPECT_EQ(g.at("version").as_int64(), a.version) << id;
      EXPECT_GT(g.at("epoch").as_int64(), a.epoch) << id << ": started again at an old epoch";
    }
    std::map<std::string, int> hosts;
    for (std::size_t n : kNodes) {
      const auto r = c_.request(n, "GET", "/api/v1/admin/sessions", "", kAdmin);
      ASSERT_EQ(r.status, 200) << r.body;
      const json::value body = r.json();
      for (const auto& s : body.at("sessions").as_array()) {
        ++hosts[std::string(s.at("key").as_string())];
      }
    }
    for (const auto& [id, a] : acked) EXPECT_EQ(hosts["game:" + id], 1) << id;
  }

  std::unique_ptr<PostgresServer> pg_;
  ClusterHarness c_;
};

TEST_F(Database, AClusterKilledAtOnceComesBackFromTheDatabaseAlone) {
  start_three();
  auto acked = play(0, "g_db", 12);
  const auto lobby = c_.request(2, "POST", "/api/v1/lobbies", "", c_.new_user(2, "Host").second);
  ASSERT_EQ(lobby.status, 201) << lobby.body;
  const std::string code(lobby.json().at("join_code").as_string());
  wait_until_written();
  auto rows = pg_->psql("SELECT count(*) FROM minotaur_sessions");
  ASSERT_TRUE(rows) << rows.error();
  EXPECT_EQ(std::stoi(rows.value()), 13) << "12 games and a lobby";

  c_.stop_all(SIGKILL);  // no node has memory or a data dir to come back with
  c_.restart({0, 1, 2});
  expect_every_game_back(acked);
  const auto back = c_.request(0, "GET", "/api/v1/lobbies/" + code);
  EXPECT_EQ(back.status, 200) << back.body;
}

TEST_F(Database, TheDatabaseGoneUnderLoadQueuesThenRefusesAndCatchesUp) {
  start_three({"--database-max-lag-ms", "3000"});
  auto acked = play(0, "g_gone", 6);
  wait_until_written();

  ASSERT_TRUE(pg_->stop());
  // Changes made while it is away are acknowledged (within the bound) and queued.
  for (auto& [id, a] : acked) {
    const auto m = c_.request(0, "POST", "/api/v1/games/" + id + "/end_round", "", kAdmin);
    ASSERT_EQ(m.status, 200) << m.body;
    a.version = m.json().at("version").as_int64();
  }
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    std::int64_t queued = 0, errors = 0;
    for (std::size_t n : kNodes) {
      queued += metric(n, "minotaur_database_queue_length");
      errors += metric(n, "minotaur_database_write_errors_total");
    }
    return queued == static_cast<std::int64_t>(acked.size()) && errors > 0;
  })) << "the nodes do not say that the database is behind";

  // Past the bound, changes are refused rather than acknowledged and never written.
  ASSERT_TRUE(ClusterHarness::eventually(
      [&] {
        const auto m = c_.request(0, "POST", "/api/v1/games/" + acked.begin()->first + "/end_round",
                                  "", kAdmin);
        if (m.status == 200) acked.begin()->second.version = m.json().at("version").as_int64();
        return m.status == 503 && m.body.find("storage_unavailable") != std::string::npos;
      },
      15s));

  ASSERT_TRUE(pg_->start());
  wait_until_written();
  for (std::size_t n : kNodes) {
    EXPECT_EQ(metric(n, "minotaur_database_ok"), 1) << n;
    EXPECT_LT(metric(n, "minotaur_database_lag_ms"), 1'000) << n;
  }
  // Changes are accepted again.
  for (auto& [id, a] : acked) {
    ASSERT_TRUE(ClusterHarness::eventually([&] {
      const auto m = c_.request(0, "POST", "/api/v1/games/" + id + "/end_round", "", kAdmin);
      if (m.status != 200) return false;
      a.version = m.json().at("version").as_int64();
      return true;
    })) << id;
  }
  wait_until_written();

  c_.stop_all(SIGKILL);
  c_.restart({0, 1, 2});
  expect_every_game_back(acked);
}

// A wrong password, or a database newer than the build, stops the node at start (exit 2) with
// a message naming where it looked and what to check, never the password.
TEST_F(Database, AWrongPasswordOrANewerSchemaRefusesToStartNamingTheHost) {
  const auto refused = [&](const std::string& url) {
    ClusterHarness h;
    const std::size_t n = h.start(NodeSpec("n1").args({"--database-url", url}).no_wait());
    EXPECT_TRUE(ClusterHarness::eventually([&] { return h.exited(n); })) << "still running";
    EXPECT_EQ(h.exit_code(n), 2);
    return h.log(n);
  };
  const std::string where = "127.0.0.1:" + std::to_string(pg_->port());
  std::string log = refused(pg_->url("wrong-password"));
  EXPECT_NE(log.find("cannot connect to the database at " + where), std::string::npos) << log;
  EXPECT_NE(log.find("password authentication failed"), std::string::npos) << log;
  EXPECT_EQ(log.find("wrong-password"), std::string::npos) << log;

  c_.start(node("n1"));  // creates the schema
  c_.stop(0, SIGTERM);
  ASSERT_TRUE(pg_->psql("UPDATE minotaur_schema SET version = version + 1"));
  log = refused(pg_->url());
  EXPECT_NE(log.find("newer than this build reads"), std::string::npos) << log;
}

}  // namespace
}  // namespace minotaur
