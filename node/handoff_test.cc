// Sessions survive their node: multi-process tests of placement, forwarding and hand-off with
// real `minotaur node` processes (issue 4), starting with the journal's own test.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <thread>

#include "sessions/placement.h"
#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::ClusterHarness;

const std::string kAdmin = ClusterHarness::kAdminToken;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The journal's game: Player1 (id 3) and Player2 (id 6) on hex (-1,0).
std::string journal_game_json(const std::string& id, const std::string& user1,
                              const std::string& user2, std::int64_t round_ends_at_ms = 0) {
  return testing::game_json(id, {{3, user1, "Player1", -1, 0}, {6, user2, "Player2", -1, 0}},
                            round_ends_at_ms);
}

TEST(Handoff, TheJournalsTest) {
  // start_cluster, start_game
  ClusterHarness c;
  const auto node1 = c.start("node1");
  const auto [u1, t1] = c.new_user(node1, "Player1");
  const auto [u2, t2] = c.new_user(node1, "Player2");
  ASSERT_EQ(
      c.request(node1, "POST", "/api/v1/games", journal_game_json("g_journal", u1, u2), kAdmin)
          .status,
      201);
  // update_game: three round ends, Player1 attacks Player2, Player2 moves (1,0)
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(c.request(node1, "POST", "/api/v1/games/g_journal/end_round", "", kAdmin).status,
              200);
  }
  ASSERT_EQ(c.request(node1, "POST", "/api/v1/games/g_journal/actions",
                      R"({"type":"attack","target_player_id":6})", t1)
                .status,
            200);
  const auto updated = c.request(node1, "POST", "/api/v1/games/g_journal/actions",
                                 R"({"type":"move","vector":{"q":1,"r":0}})", t2);
  ASSERT_EQ(updated.status, 200) << updated.body;
  const json::value game = updated.json();
  const std::int64_t epoch_on_node1 = game.at("epoch").as_int64();
  // add_node2, stop_node1
  const auto node2 = c.start("node2");
  c.stop(node1, SIGTERM);
  EXPECT_EQ(c.exit_code(node1), 0);
  // "game session state is resumed on another node"
  const auto r = c.request(node2, "GET", "/api/v1/games/g_journal");
  ASSERT_EQ(r.status, 200) << r.body;
  const json::value on_node2 = r.json();
  EXPECT_EQ(on_node2.at("id"), game.at("id"));
  EXPECT_EQ(on_node2.at("round").as_int64(), 4);
  EXPECT_EQ(on_node2.at("round"), game.at("round"));
  EXPECT_EQ(on_node2.at("registered_actions"), game.at("registered_actions"));
  EXPECT_EQ(on_node2.at("players"), game.at("players"));
  EXPECT_EQ(on_node2.at("version"), game.at("version"));
  EXPECT_EQ(on_node2.at("node").as_string(), "node2");
  EXPECT_GT(on_node2.at("epoch").as_int64(), epoch_on_node1);
}

TEST(Handoff, AnyNodeAnswersForAnyGame) {
  ClusterHarness c;
  const auto a = c.start("a");
  const auto b = c.start("b");
  const auto d = c.start("c");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(a).size() == 3; }));
  const auto [u1, t1] = c.new_user(a, "P1");
  const auto [u2, t2] = c.new_user(a, "P2");
  for (int i = 0; i < 12; ++i) {
    const std::string id = "g_any" + std::to_string(i);
    ASSERT_EQ(c.request(a, "POST", "/api/v1/games", journal_game_json(id, u1, u2), kAdmin).status,
              201);
    const std::string owner = sessions::owner_of(sessions::game_key(id), {"a", "b", "c"});
    for (auto n : {a, b, d}) {
      const auto r = c.request(n, "GET", "/api/v1/games/" + id);
      ASSERT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.json().at("node").as_string(), owner);
    }
    // A player acts through a node that does not host the game.
    const auto via = owner == "a" ? b : a;
    const auto acted = c.request(via, "POST", "/api/v1/games/" + id + "/actions",
                                 R"({"type":"attack","target_player_id":6})", t1);
    ASSERT_EQ(acted.status, 200) << acted.body;
    EXPECT_EQ(acted.json().at("version").as_int64(), 1);
  }
  // Lobbies too: created on one node, joined and started through others.
  const auto lobby = c.request(b, "POST", "/api/v1/lobbies", "", t1);
  ASSERT_EQ(lobby.status, 201) << lobby.body;
  const std::string code(lobby.json().at("join_code").as_string());
  ASSERT_EQ(c.request(d, "POST", "/api/v1/lobbies/" + code + "/join", "", t2).status, 200);
  const auto started = c.request(a, "POST", "/api/v1/lobbies/" + code + "/start", "", t1);
  ASSERT_EQ(started.status, 201) << started.body;
  const std::string game_id(started.json().at("game_id").as_string());
  EXPECT_EQ(c.request(d, "GET", "/api/v1/games/" + game_id).status, 200);
}

// A game whose owner among `members` is `want`.
std::string game_owned_by(const std::string& want, const std::vector<std::string>& members) {
  for (int i = 0;; ++i) {
    const std::string id = "g_own" + std::to_string(i);
    if (sessions::owner_of(sessions::game_key(id), members) == want) return id;
  }
}

TEST(Handoff, ARollingRestartKeepsEveryGameAndItsState) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  const auto n3 = c.start("n3");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(n1).size() == 3; }));
  const auto [u1, t1] = c.new_user(n1, "P1");
  const auto [u2, t2] = c.new_user(n1, "P2");
  constexpr int kGames = 30;
  for (int i = 0; i < kGames; ++i) {
    const std::string id = "g_roll" + std::to_string(i);
    ASSERT_EQ(c.request(n1, "POST", "/api/v1/games", journal_game_json(id, u1, u2), kAdmin).status,
              201);
    ASSERT_EQ(c.request(n2, "POST", "/api/v1/games/" + id + "/actions",
                        R"({"type":"attack","target_player_id":6})", t1)
                  .status,
              200);
  }
  std::map<std::string, std::int64_t> last_epoch;
  for (auto n : {n1, n2, n3}) {
    c.restart(n);  // SIGTERM, then a new process with the same name
    EXPECT_EQ(c.exit_code(n), 0);
    ASSERT_TRUE(ClusterHarness::eventually([&] {
      return c.status_seen_by(n, "n1") == "up" && c.status_seen_by(n, "n2") == "up" &&
             c.status_seen_by(n, "n3") == "up";
    }));
    const auto other = n == n1 ? n2 : n1;
    for (int i = 0; i < kGames; ++i) {
      const std::string id = "g_roll" + std::to_string(i);
      const auto r = c.request(other, "GET", "/api/v1/games/" + id);
      ASSERT_EQ(r.status, 200) << id << " after restarting " << c.name(n) << ": " << r.body;
      const auto g = r.json();
      EXPECT_EQ(g.at("registered_actions").as_array().size(), 1u) << id;
      EXPECT_EQ(g.at("version").as_int64(), 1) << id;
      const std::int64_t epoch = g.at("epoch").as_int64();
      EXPECT_GE(epoch, last_epoch[id]) << id << ": epochs never go back";
      last_epoch[id] = epoch;
    }
  }
}

TEST(Handoff, AWebSocketKeepsGettingEveryVersionAfterTheGameMoved) {
  ClusterHarness c;
  const auto a = c.start("a");
  const auto b = c.start("b");
  const auto d = c.start("c");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(a).size() == 3; }));
  const auto [u1, t1] = c.new_user(a, "P1");
  const auto [u2, t2] = c.new_user(a, "P2");
  // Hosted by b, and by c once b is gone, while the client talks to a.
  std::string id;
  for (int i = 0; id.empty(); ++i) {
    const std::string candidate = "g_ws" + std::to_string(i);
    if (sessions::owner_of(sessions::game_key(candidate), {"a", "b", "c"}) == "b" &&
        sessions::owner_of(sessions::game_key(candidate), {"a", "c"}) == "c") {
      id = candidate;
    }
  }
  const auto created = c.request(a, "POST", "/api/v1/games", journal_game_json(id, u1, u2), kAdmin);
  ASSERT_EQ(created.status, 201);
  ASSERT_EQ(created.json().at("node").as_string(), "b") << created.body;

  namespace beast = boost::beast;
  boost::asio::io_context io;
  beast::websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).connect(
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), c.http_port(a)));
  ws.handshake("127.0.0.1", "/api/v1/ws");
  ws.write(
      boost::asio::buffer(json::serialize(json::object{{"op", "subscribe"}, {"game_id", id}})));
  beast::flat_buffer buf;
  std::vector<std::int64_t> versions;
  std::vector<std::string> hosts;
  const auto read_until_version = [&](std::int64_t v) {
    while (versions.empty() || versions.back() < v) {
      buf.consume(buf.size());
      beast::get_lowest_layer(ws).expires_after(10s);
      ws.read(buf);
      const auto m = json::parse(beast::buffers_to_string(buf.data()));
      ASSERT_EQ(m.at("event").as_string(), "game") << m;
      versions.push_back(m.at("game").at("version").as_int64());
      hosts.emplace_back(m.at("game").at("node").as_string());
    }
  };
  read_until_version(0);
  std::int64_t v = 0;
  const auto act = [&](std::size_t via, const std::string& body, const std::string& token) {
    const auto r = c.request(via, "POST", "/api/v1/games/" + id + "/actions", body, token);
    ASSERT_EQ(r.status, 200) << r.body;
    v = r.json().at("version").as_int64();
  };
  act(a, R"({"type":"attack","target_player_id":6})", t1);
  read_until_version(v);
  c.stop(b, SIGTERM);  // the game moves from b to c
  act(d, R"({"type":"move","vector":{"q":1,"r":0}})", t2);
  act(a, R"({"type":"move","vector":{"q":0,"r":1}})", t1);
  read_until_version(v);
  for (std::size_t i = 0; i < versions.size(); ++i) {
    EXPECT_EQ(versions[i], static_cast<std::int64_t>(i)) << "every version once, in order";
  }
  std::string trace;
  for (std::size_t i = 0; i < versions.size(); ++i) {
    trace += std::to_string(versions[i]) + "@" + hosts[i] + " ";
  }
  EXPECT_EQ(hosts.front(), "b") << trace;
  EXPECT_EQ(hosts.back(), "c");
}

TEST(Handoff, AHalfwayRoundTimerFiresAtItsOriginalDeadline) {
  ClusterHarness c;
  const auto a = c.start("a");
  const auto b = c.start("b");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(a).size() == 2; }));
  const auto [u1, t1] = c.new_user(a, "P1");
  const auto [u2, t2] = c.new_user(a, "P2");
  const std::string id = game_owned_by("b", {"a", "b"});
  const std::int64_t deadline = wall_ms() + 3000;
  ASSERT_EQ(
      c.request(a, "POST", "/api/v1/games", journal_game_json(id, u1, u2, deadline), kAdmin).status,
      201);
  std::this_thread::sleep_for(1500ms);  // half-way
  c.stop(b, SIGTERM);
  // Watch the round end from the node that now hosts it.
  std::int64_t fired_ms = 0;
  ASSERT_TRUE(ClusterHarness::eventually(
      [&] {
        const auto r = c.request(a, "GET", "/api/v1/games/" + id);
        if (r.status == 200 && r.json().at("round").as_int64() == 2) {
          fired_ms = wall_ms();
          return true;
        }
        return false;
      },
      6s));
  const auto g = c.request(a, "GET", "/api/v1/games/" + id).json();
  EXPECT_EQ(g.at("node").as_string(), "a");
  // Polled every 20 ms, so the round ended within [deadline - 100, deadline + 100 + 20 + a call].
  EXPECT_GE(fired_ms, deadline - 100);
  EXPECT_LE(fired_ms, deadline + 100 + 150);
}

// Nodes a, b and s (indices 0, 1, 2) under sync replication, and a game that s hosts whose round
// the admin ended once: its path and that answer (status 200 from s when all went well).
struct GameOnS {
  std::string path;
  testing::HttpReply ended;
};
GameOnS three_sync_nodes_and_a_game_on_s(ClusterHarness& c) {
  const std::vector<std::string> sync = {"--replication", "sync"};
  const auto a = c.start(testing::NodeSpec("a").args(sync));
  c.start(testing::NodeSpec("b").args(sync));
  c.start(testing::NodeSpec("s").args(sync));
  EXPECT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(a).size() == 3; }));
  const auto [u1, t1] = c.new_user(a, "P1");
  const auto [u2, t2] = c.new_user(a, "P2");
  const std::string id = game_owned_by("s", {"a", "b", "s"});
  EXPECT_EQ(c.request(a, "POST", "/api/v1/games", journal_game_json(id, u1, u2), kAdmin).status,
            201);
  GameOnS g{"/api/v1/games/" + id, {}};
  g.ended = c.request(a, "POST", g.path + "/end_round", "", kAdmin);
  return g;
}

// A node that stalls (SIGSTOP, as in a long pause) past the failure bound is declared down; the
// others start its games from the store and go on. When it runs again it accepts nothing on
// what it knew before the stall: it learns it is down and exits (code 3) to be restarted.
// Under sync replication: what it acknowledged just before it stalled is in the store (under
// async, a stall right after a change is a crash for the replication window).
TEST(Handoff, AStalledNodeIsReplacedAndAcceptsNothingWhenItRunsAgain) {
  ClusterHarness c;
  const std::size_t a = 0, b = 1, s = 2;
  const auto [path, before] = three_sync_nodes_and_a_game_on_s(c);
  ASSERT_EQ(before.status, 200) << before.body;
  ASSERT_EQ(before.json().at("node").as_string(), "s");
  const std::int64_t round_before = before.json().at("round").as_int64();
  const std::int64_t epoch_before = before.json().at("epoch").as_int64();

  c.pause(s);
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.status_seen_by(a, "s") == "down"; }))
      << "the stalled node was not declared down";
  // The game goes on without it, from the state it had.
  const auto during = c.request(a, "POST", path + "/end_round", "", kAdmin);
  ASSERT_EQ(during.status, 200) << during.body;
  EXPECT_EQ(during.json().at("round").as_int64(), round_before + 1);
  EXPECT_GT(during.json().at("epoch").as_int64(), epoch_before);
  EXPECT_NE(during.json().at("node").as_string(), "s");
  // A player's change reaches the stalled node: it waits in its socket until the node runs.
  int stale_status = 0;
  std::jthread stale(  // joined also when an ASSERT below returns early
      [&] { stale_status = c.request(s, "POST", path + "/end_round", "", kAdmin).status; });
  std::this_thread::sleep_for(200ms);

  c.resume(s);
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.exited(s); }))
      << "the stalled node went on after the cluster declared it down";
  EXPECT_EQ(c.exit_code(s), 3) << c.log(s);
  stale.join();
  EXPECT_NE(stale_status, 200) << "the stalled node accepted a change on its old lease";
  const auto after = c.request(b, "GET", path);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.json().at("round").as_int64(), round_before + 1);
  EXPECT_EQ(after.json().at("epoch"), during.json().at("epoch"));
}

// A call forwarded to the session's host just as that host stalls gets no answer. Once the
// cluster declares the host down (the failure bound), the call is asked again at once and served
// by the new owner from the store — it does not wait out the forward's own time-out as well.
TEST(Handoff, ACallForwardedToAStalledHostIsAskedAgainWhenTheHostIsDeclaredDown) {
  ClusterHarness c;
  const std::size_t a = 0, s = 2;
  const auto [path, before] = three_sync_nodes_and_a_game_on_s(c);
  ASSERT_EQ(before.status, 200) << before.body;
  ASSERT_EQ(before.json().at("node").as_string(), "s");

  c.pause(s);
  const auto during = c.request(a, "POST", path + "/end_round", "", kAdmin);
  c.resume(s);  // it learns that it is down, and exits
  ASSERT_EQ(during.status, 200) << during.body;
  EXPECT_NE(during.json().at("node").as_string(), "s");
  EXPECT_EQ(during.json().at("round").as_int64(), before.json().at("round").as_int64() + 1);
  const std::string metrics = c.request(a, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("\nminotaur_forwards_to_the_dead_total 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("\nminotaur_forward_timeouts_total 0\n"), std::string::npos)
      << "the call waited out the forward's time-out\n"
      << metrics;
}

// A concluded game stays readable for its retention after its last round's deadline, then it
// is gone from the whole cluster (its host and the replicated store): memory does not grow with
// every game ever played.
TEST(Handoff, AConcludedGameIsDroppedFromTheClusterAfterItsRetention) {
  ClusterHarness c;
  const std::vector<std::string> retention = {"--concluded-retention-ms", "500"};
  const auto a = c.start(testing::NodeSpec("a").args(retention));
  const auto b = c.start(testing::NodeSpec("b").args(retention));
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(a).size() == 2; }));
  const auto [u1, t1] = c.new_user(a, "P1");
  const auto [u2, t2] = c.new_user(a, "P2");
  json::value body = json::parse(journal_game_json("g_over", u1, u2, wall_ms()));
  body.as_object()["status"] = "concluded";
  body.as_object()["players"].as_array()[1].as_object()["health"] = 0;
  const auto created = c.request(a, "POST", "/api/v1/games", json::serialize(body), kAdmin);
  ASSERT_EQ(created.status, 201) << created.body;
  const auto read = c.request(b, "GET", "/api/v1/games/g_over");
  ASSERT_EQ(read.status, 200) << read.body;  // within its retention (or the test ran slowly)
  EXPECT_EQ(read.json().at("status").as_string(), "concluded");
  for (auto n : {a, b}) {
    EXPECT_TRUE(ClusterHarness::eventually([&] {
      return c.request(n, "GET", "/api/v1/games/g_over").status == 404;
    })) << "the concluded game is still served by "
        << c.name(n);
  }
  const auto owner = sessions::owner_of(sessions::game_key("g_over"), {"a", "b"}) == "a" ? a : b;
  const auto metrics = c.request(owner, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("minotaur_concluded_dropped_total 1"), std::string::npos)
      << metrics.body;
}

// A lobby nobody touched for its retention is gone from the whole cluster (its host and the
// replicated store): abandoned lobbies neither hold memory nor keep one of the 26^4 join codes.
TEST(Handoff, AnIdleLobbyIsDroppedFromTheClusterAfterItsRetention) {
  ClusterHarness c;
  const std::vector<std::string> retention = {"--lobby-retention-ms", "1500"};
  const auto a = c.start(testing::NodeSpec("a").args(retention));
  const auto b = c.start(testing::NodeSpec("b").args(retention));
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.members_seen_by(a).size() == 2; }));
  const auto [u1, t1] = c.new_user(a, "P1");
  const auto lobby = c.request(a, "POST", "/api/v1/lobbies", "", t1);
  ASSERT_EQ(lobby.status, 201) << lobby.body;
  const std::string code(lobby.json().at("join_code").as_string());
  const auto read = c.request(b, "GET", "/api/v1/lobbies/" + code);
  ASSERT_EQ(read.status, 200) << read.body;  // within its retention (or the test ran slowly)
  for (auto n : {a, b}) {
    EXPECT_TRUE(ClusterHarness::eventually([&] {
      return c.request(n, "GET", "/api/v1/lobbies/" + code).status == 404;
    })) << "the idle lobby is still served by "
        << c.name(n);
  }
  const auto owner = sessions::owner_of(sessions::lobby_key(code), {"a", "b"}) == "a" ? a : b;
  const auto metrics = c.request(owner, "GET", "/metrics");
  EXPECT_NE(metrics.body.find("minotaur_lobbies_dropped_total 1"), std::string::npos)
      << metrics.body;
}

}  // namespace
}  // namespace minotaur
