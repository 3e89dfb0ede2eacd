// `minotaur ctl` against real nodes: what it lists, where it finds a game, the graceful stops it
// asks for (one node, every node), and what it says when the node is down or the token wrong.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

using testing::ClusterHarness;
using testing::NodeSpec;
namespace fs = std::filesystem;

// Three nodes with data dirs (so that `drain --all` needs no node left to take the games), and
// the admin token in a file, as an operator keeps it.
class Ctl : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/minotaur-ctl-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    token_file_ = dir_ + "/admin-token";
    std::ofstream(token_file_) << ClusterHarness::kAdminToken << "\n";
    for (const char* name : {"n1", "n2", "n3"}) {
      nodes_.push_back(c_.start(NodeSpec(name).args({"--data-dir", dir_ + "/" + name})));
    }
    ASSERT_TRUE(ClusterHarness::eventually([&] {
      for (auto n : nodes_) {
        if (c_.members_seen_by(n).size() != 3) return false;
      }
      return true;
    }));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string api(std::size_t node) const {
    return "127.0.0.1:" + std::to_string(c_.http_port(node));
  }
  // minotaur ctl --node (node n1's API) --admin-token-file F ARGS...: exit code and output.
  std::pair<int, std::string> ctl(std::vector<std::string> args, std::size_t via = 0) {
    std::vector<std::string> argv{"ctl", "--node", api(via), "--admin-token-file", token_file_};
    argv.insert(argv.end(), args.begin(), args.end());
    return c_.run_minotaur(argv);
  }
  void create_game(const std::string& id) {
    const auto r =
        c_.request(nodes_[0], "POST", "/api/v1/games",
                   testing::game_json(id, {{1, "u_a", "A", 0, 0}, {2, "u_b", "B", 1, 0}}),
                   ClusterHarness::kAdminToken);
    ASSERT_EQ(r.status, 201) << r.body;
  }

  ClusterHarness c_;
  std::vector<std::size_t> nodes_;
  std::string dir_;
  std::string token_file_;
};

TEST_F(Ctl, MembersListsEveryMemberWithItsStatusAndWhetherItAcceptsChanges) {
  // Each member's own word on whether it accepts changes: right after the last one joined, the
  // others catch up with it for a moment ("catching_up"), then all three do.
  std::string out;
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    const auto [code, text] = ctl({"--json", "members"});
    out = text;
    if (code != 0) return false;
    const boost::json::value v = boost::json::parse(text);
    if (!v.is_array() || v.as_array().size() != 3) return false;
    for (const auto& m : v.as_array()) {
      EXPECT_EQ(m.at("status"), "up") << text;
      EXPECT_TRUE(m.at("http").is_string()) << text;
      if (m.at("accepts_changes") != true) {
        EXPECT_EQ(m.at("accepts_changes"), false) << text;
        EXPECT_TRUE(m.at("changes_held").is_string()) << "a hold names its reason: " << text;
        return false;
      }
    }
    return true;
  })) << out;

  const auto [code, table] = ctl({"members"});
  ASSERT_EQ(code, 0) << table;
  EXPECT_NE(table.find("NAME"), std::string::npos) << table;
  for (const char* name : {"n1", "n2", "n3"})
    EXPECT_NE(table.find(name), std::string::npos) << table;
  EXPECT_NE(table.find("yes"), std::string::npos) << table;
}

TEST_F(Ctl, SessionsAndWhereNameEachGamesHostAndEpoch) {
  for (const char* id : {"g_ctl_1", "g_ctl_2", "g_ctl_3"}) create_game(id);
  const auto [code, out] = ctl({"--json", "sessions", "g_ctl"});
  ASSERT_EQ(code, 0) << out;
  const boost::json::value v = boost::json::parse(out);
  ASSERT_TRUE(v.is_array()) << out;
  std::map<std::string, std::string> host;
  for (const auto& s : v.as_array()) {
    host[std::string(s.at("key").as_string())] = std::string(s.at("node").as_string());
  }
  ASSERT_EQ(host.size(), 3u) << out << " (the filter keeps only keys containing g_ctl)";
  for (const char* id : {"g_ctl_1", "g_ctl_2", "g_ctl_3"}) {
    const auto game = c_.request(nodes_[1], "GET", std::string("/api/v1/games/") + id).json();
    const std::string node(game.at("node").as_string());
    EXPECT_EQ(host[std::string("game:") + id], node) << out;
    const auto [wcode, wout] = ctl({"where", id}, 2);
    EXPECT_EQ(wcode, 0) << wout;
    EXPECT_NE(wout.find("is hosted by " + node + " (epoch " +
                        std::to_string(game.at("epoch").as_int64()) + ")"),
              std::string::npos)
        << wout;
  }
  // One member's only.
  const auto [ocode, oout] = ctl({"--json", "sessions", "--on", "n2"});
  ASSERT_EQ(ocode, 0) << oout;
  const boost::json::value only_n2 = boost::json::parse(oout);
  ASSERT_TRUE(only_n2.is_array()) << oout;
  for (const auto& s : only_n2.as_array()) EXPECT_EQ(s.at("node"), "n2") << oout;

  const auto [ncode, nout] = ctl({"where", "g_nosuch"});
  EXPECT_EQ(ncode, 1) << nout;
  EXPECT_NE(nout.find("no game g_nosuch"), std::string::npos) << nout;
}

TEST_F(Ctl, DrainStopsANodeGracefullyAndItsGamesGoOnElsewhere) {
  for (const char* id : {"g_d1", "g_d2", "g_d3", "g_d4", "g_d5", "g_d6"}) create_game(id);
  const auto [code, out] = ctl({"drain", "n2"});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("n2: draining"), std::string::npos) << out;
  EXPECT_NE(out.find("n2: drained and exited"), std::string::npos) << out;
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c_.exited(nodes_[1]); }));
  EXPECT_EQ(c_.exit_code(nodes_[1]), 0) << c_.log(nodes_[1]);
  EXPECT_NE(c_.log(nodes_[1]).find("drain asked for through the API"), std::string::npos);
  for (const char* id : {"g_d1", "g_d2", "g_d3", "g_d4", "g_d5", "g_d6"}) {
    const auto g = c_.request(nodes_[0], "GET", std::string("/api/v1/games/") + id);
    ASSERT_EQ(g.status, 200) << id << ": " << g.body;
    EXPECT_NE(g.json().at("node").as_string(), "n2") << id;
  }
  // Drained already: nothing to drain.
  const auto [again, again_out] = ctl({"drain", "n2"});
  EXPECT_EQ(again, 1) << again_out;
  EXPECT_NE(again_out.find("nothing to drain"), std::string::npos) << again_out;
}

TEST_F(Ctl, DrainAllStopsEveryNodeAndTheClusterComesBackWithItsGames) {
  create_game("g_all");
  const auto [code, out] = ctl({"--json", "drain", "--all"});
  ASSERT_EQ(code, 0) << out;
  const boost::json::value v = boost::json::parse(out);
  EXPECT_EQ(v.at("drained").as_array().size(), 3u) << out;
  for (auto n : nodes_) {
    ASSERT_TRUE(ClusterHarness::eventually([&] { return c_.exited(n); }));
    EXPECT_EQ(c_.exit_code(n), 0) << c_.log(n);
  }
  c_.restart(nodes_);
  ASSERT_TRUE(ClusterHarness::eventually(
      [&] { return c_.request(nodes_[2], "GET", "/api/v1/games/g_all").status == 200; }));
}

TEST_F(Ctl, RemoveTakesTheNameOfAMemberGoneForGoodAndRefusesALiveOne) {
  c_.stop(nodes_[2], SIGKILL);
  ASSERT_TRUE(
      ClusterHarness::eventually([&] { return c_.status_seen_by(nodes_[0], "n3") == "down"; }));
  // Right after the member went down the change may still be spreading: ctl says to retry.
  std::string out;
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    const auto [code, text] = ctl({"remove", "n3"});
    out = text;
    if (code != 0) {
      EXPECT_NE(text.find("membership_changing"), std::string::npos) << text;
    }
    return code == 0;
  })) << out;
  EXPECT_NE(out.find("removed n3; the cluster has 2 voter(s) now"), std::string::npos) << out;

  const auto [alive, alive_out] = ctl({"remove", "n2"});
  EXPECT_EQ(alive, 1) << alive_out;
  EXPECT_NE(alive_out.find("member_alive"), std::string::npos) << alive_out;
  EXPECT_NE(alive_out.find("minotaur ctl drain n2"), std::string::npos) << alive_out;
  const auto [unknown, unknown_out] = ctl({"remove", "n9"});
  EXPECT_EQ(unknown, 1) << unknown_out;
  EXPECT_NE(unknown_out.find("member_not_found"), std::string::npos) << unknown_out;
  const auto [bad, bad_out] = ctl({"remove", "a/b"});
  EXPECT_EQ(bad, 2) << bad_out;
}

TEST_F(Ctl, ErrorsSayWhatToDoNext) {
  // Nothing listens there (a port of a node stopped for the purpose).
  const std::string gone = api(nodes_[2]);
  c_.stop(nodes_[2], SIGKILL);
  auto [down, down_out] =
      c_.run_minotaur({"ctl", "--node", gone, "--admin-token-file", token_file_, "members"});
  EXPECT_EQ(down, 1) << down_out;
  EXPECT_NE(down_out.find("no answer from " + gone), std::string::npos) << down_out;
  EXPECT_NE(down_out.find("--node"), std::string::npos) << down_out;

  const std::string wrong = dir_ + "/wrong-token";
  std::ofstream(wrong) << "not-the-token\n";
  auto [refused, refused_out] =
      c_.run_minotaur({"ctl", "--node", api(nodes_[0]), "--admin-token-file", wrong, "sessions"});
  EXPECT_EQ(refused, 1) << refused_out;
  EXPECT_NE(refused_out.find("refused the admin token"), std::string::npos) << refused_out;
  auto [drain_refused, drain_refused_out] = c_.run_minotaur(
      {"ctl", "--node", api(nodes_[0]), "--admin-token-file", wrong, "drain", "n1"});
  EXPECT_EQ(drain_refused, 1) << drain_refused_out;
  EXPECT_TRUE(c_.running(nodes_[0])) << "a drain with a wrong token stopped the node";

  auto [unknown, unknown_out] = ctl({"drain", "n9"});
  EXPECT_EQ(unknown, 1) << unknown_out;
  EXPECT_NE(unknown_out.find("no member named n9"), std::string::npos) << unknown_out;

  auto [bad, bad_out] = c_.run_minotaur({"ctl", "--node", "nocolon", "members"});
  EXPECT_EQ(bad, 2) << bad_out;
  EXPECT_NE(bad_out.find("HOST:PORT"), std::string::npos) << bad_out;

  auto [missing, missing_out] = ctl({"drain"});
  EXPECT_EQ(missing, 2) << missing_out;
  EXPECT_NE(missing_out.find("--all"), std::string::npos) << missing_out;
}

}  // namespace
}  // namespace minotaur
