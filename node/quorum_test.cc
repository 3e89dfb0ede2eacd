// The quorum with real `minotaur node` processes: names that only handshook do not count, and an
// operator removes the names of members that are gone for good.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "sessions/placement.h"
#include "testing/cluster_harness.h"
#include "transport/frame.h"
#include "transport/handshake.h"

namespace minotaur {
namespace {

using namespace std::chrono_literals;
using testing::ClusterHarness;

const std::string kAdmin = ClusterHarness::kAdminToken;

// Connects to the cluster port and completes the real handshake under `name` with the cluster
// secret, then closes the connection: a process that holds the secret but never takes part.
// True when the node accepted the handshake.
bool handshake_and_leave(std::uint16_t port, const std::string& secret, const std::string& name) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return false;
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto send_frame = [fd](const std::string& payload) {
    const std::string f = transport::encode_frame(payload).value();
    return send(fd, f.data(), f.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(f.size());
  };
  transport::Nonce nonce{};
  std::random_device rd;
  for (auto& b : nonce) b = static_cast<unsigned char>(rd());
  // The advertised address is a port nobody listens on: the node's dials back fail.
  transport::Handshake hs(transport::Role::kDialer, secret,
                          transport::NodeIdentity{name, 7, "127.0.0.1:1"}, nonce);
  bool ok = send_frame(hs.hello());
  transport::FrameDecoder decoder(transport::kHandshakeMaxFrameBytes);
  char buf[4096];
  while (ok && !hs.done()) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    decoder.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    while (ok && !hs.done()) {
      auto frame = decoder.next();
      if (!frame.ok() || !frame.value().has_value()) break;
      auto step = hs.on_frame(*frame.value());
      if (!step.ok()) {
        ok = false;
        break;
      }
      for (const std::string& s : step.value().send) ok = ok && send_frame(s);
    }
  }
  close(fd);
  return ok && hs.done();
}

std::string two_player_game(const std::string& id) {
  return testing::game_json(id, {{3, "u_1", "Player1", -1, 0}, {6, "u_2", "Player2", 1, 0}});
}

// A change: the admin ends the round at once.
testing::HttpReply end_round(const ClusterHarness& c, std::size_t node, const std::string& game) {
  return c.request(node, "POST", "/api/v1/games/" + game + "/end_round", "", kAdmin);
}

// The node's quorum as GET /api/v1/cluster reports it: {"held", "voters"}.
boost::json::object quorum_of(const ClusterHarness& c, std::size_t node) {
  const boost::json::value view = c.request(node, "GET", "/api/v1/cluster").json();
  const auto* q = view.is_object() ? view.as_object().if_contains("quorum") : nullptr;
  return q != nullptr && q->is_object() ? q->as_object() : boost::json::object{};
}

// The node holds the quorum, of `voters` admitted voters (the cluster formed: before its first
// admission every name counts, a handshake under a new name included).
bool holds_quorum_of(const ClusterHarness& c, std::size_t node, std::int64_t voters) {
  const auto q = quorum_of(c, node);
  return q.contains("held") && q.at("held").as_bool() && q.at("formed").as_bool() &&
         q.at("voters").as_int64() == voters;
}

// Starts n1, n2 and n3 (indices 0, 1, 2) and waits until each holds the quorum of the three,
// admitted as voters once they confirmed each other for a failure bound.
bool start_three_voters(ClusterHarness& c) {
  const std::vector<std::size_t> nodes = {c.start("n1"), c.start("n2"), c.start("n3")};
  return ClusterHarness::eventually([&] {
    for (auto o : nodes) {
      if (!holds_quorum_of(c, o, 3)) return false;
    }
    return true;
  });
}

// Three handshakes under new names, with the real secret and the real transport handshake, left
// a 3-node cluster with six member names, of which three are alive: no quorum any more, and
// none to declare the newcomers down. They never took part, so they must not count.
TEST(Quorum, HandshakesUnderNewNamesDoNotStopTheCluster) {
  ClusterHarness c;
  ASSERT_TRUE(start_three_voters(c)) << "three voters were not admitted";
  const std::size_t n1 = 0, n2 = 1, n3 = 2;
  ASSERT_EQ(c.request(n1, "POST", "/api/v1/games", two_player_game("g_rogue"), kAdmin).status, 201);
  ASSERT_TRUE(ClusterHarness::eventually([&] { return end_round(c, n2, "g_rogue").status == 200; }))
      << "the cluster took no change before the handshakes";
  for (const std::string name : {"rogue1", "rogue2", "rogue3"}) {
    ASSERT_TRUE(handshake_and_leave(c.cluster_port(n1), c.secret(), name)) << name;
  }
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.status_seen_by(n3, "rogue3") != ""; }))
      << "the rogue names did not spread";
  for (auto via : {n1, n2, n3}) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = end_round(c, via, "g_rogue");
    EXPECT_EQ(r.status, 200) << "via " << c.name(via) << ": " << r.body;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "the change waited for a quorum";
  }
  // The names that never took part are declared down, by a quorum.
  EXPECT_TRUE(ClusterHarness::eventually([&] {
    for (const std::string name : {"rogue1", "rogue2", "rogue3"}) {
      if (c.status_seen_by(n2, name) != "down") return false;
    }
    return true;
  }));
  EXPECT_EQ(end_round(c, n3, "g_rogue").status, 200);
  for (auto o : {n1, n2, n3}) EXPECT_TRUE(holds_quorum_of(c, o, 3)) << c.name(o);
}

// What GET /api/v1/cluster of `node` says of `member`: its "voter" flag.
bool votes_seen_by(const ClusterHarness& c, std::size_t node, const std::string& member) {
  const boost::json::value view = c.request(node, "GET", "/api/v1/cluster").json();
  if (!view.is_object()) return false;
  for (const auto& m : view.at("members").as_array()) {
    if (m.at("name").as_string() == member) return m.at("voter").as_bool();
  }
  return false;
}

testing::HttpReply remove_member(const ClusterHarness& c, std::size_t node,
                                 const std::string& member, bool force) {
  return c.request(node, "POST", "/api/v1/admin/members/" + member + "/remove",
                   force ? R"({"force":true})" : "", kAdmin);
}

// Two of three nodes are gone for good (SIGKILL). The survivor holds changes: it cannot tell a
// crash from a cut, and nobody is left to declare the two down. The operator removes their
// names: refused on the survivor's own word (no quorum), done with force. One voter of one, the
// survivor accepts changes again, with the game's state from the store. A removed name that
// comes back is a new member: it votes once it is admitted again, not on its old vote.
TEST(Quorum, AnOperatorRemovesTheDeadWhenTheMajorityIsLost) {
  ClusterHarness c;
  ASSERT_TRUE(start_three_voters(c)) << "three voters were not admitted";
  const std::size_t n1 = 0, n2 = 1, n3 = 2;
  // A game that n2 hosts, so that the survivor starts it from its replica of the store.
  std::string game;
  for (int i = 0; game.empty(); ++i) {
    const std::string id = "g_lost" + std::to_string(i);
    if (sessions::owner_of(sessions::game_key(id), {"n1", "n2", "n3"}) == "n2") game = id;
  }
  ASSERT_EQ(c.request(n1, "POST", "/api/v1/games", two_player_game(game), kAdmin).status, 201);
  const auto before = end_round(c, n1, game);
  ASSERT_EQ(before.status, 200) << before.body;
  ASSERT_EQ(before.json().at("node").as_string(), "n2");
  const std::int64_t version = before.json().at("version").as_int64();
  std::this_thread::sleep_for(1s);  // async replication: on n1's replica well before the kill

  c.stop(n2, SIGKILL);
  c.stop(n3, SIGKILL);
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    const auto q = quorum_of(c, n1);
    return q.contains("held") && !q.at("held").as_bool();
  })) << "the survivor kept its quorum";
  // Not taken: n2 still looks up to the survivor, so the call waits for it (owner_unreachable);
  // nor would the survivor take it itself (no_quorum). The version below shows it was not.
  const auto held = end_round(c, n1, game);
  EXPECT_EQ(held.status, 503) << held.body;

  EXPECT_EQ(remove_member(c, n1, "nobody", false).status, 404);
  const auto self = remove_member(c, n1, "n1", true);
  EXPECT_EQ(self.status, 409) << self.body;
  EXPECT_NE(self.body.find("member_alive"), std::string::npos) << self.body;
  EXPECT_EQ(c.request(n1, "POST", "/api/v1/admin/members/n2/remove").status, 401);
  EXPECT_EQ(c.request(n1, "GET", "/api/v1/admin/members/n2/remove", "", kAdmin).status, 405);
  const auto no_force = remove_member(c, n1, "n2", false);
  EXPECT_EQ(no_force.status, 409) << no_force.body;
  EXPECT_NE(no_force.body.find("no_quorum"), std::string::npos) << no_force.body;
  EXPECT_NE(no_force.body.find("force"), std::string::npos) << no_force.body;
  // Not down (a refused removal changed nothing), and not listed as up either: silent for more
  // than the failure bound, as far as n1 can tell.
  EXPECT_EQ(c.status_seen_by(n1, "n2"), "unreachable") << "a refused removal changed the table";

  for (const std::string dead : {"n2", "n3"}) {
    const auto r = remove_member(c, n1, dead, true);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(c.status_seen_by(n1, dead), "down");
  }
  EXPECT_EQ(remove_member(c, n1, "n3", true).status, 200);  // twice is once
  ASSERT_TRUE(ClusterHarness::eventually([&] { return holds_quorum_of(c, n1, 1); }));
  const auto after = end_round(c, n1, game);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.json().at("version").as_int64(), version + 1) << "the state from the store";
  EXPECT_EQ(after.json().at("node").as_string(), "n1");

  // n2 comes back: a new incarnation of a removed name is a candidate until admitted again (the
  // admission waits for 1.5 s of its confirmations, so just after it joined it does not vote).
  c.restart(n2);
  EXPECT_FALSE(votes_seen_by(c, n1, "n2"));
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    return holds_quorum_of(c, n1, 2) && holds_quorum_of(c, n2, 2) && votes_seen_by(c, n1, "n2");
  })) << "n2 was not admitted again";
  const auto both = end_round(c, n2, game);
  EXPECT_EQ(both.status, 200) << both.body;
}

// One member leaves, another is killed: the survivor has no quorum, so it cannot declare the dead
// one down. It must still not list it as up, and it must say that it holds changes, and why,
// before a client finds out: /readyz is 503 with the reason, and so is the cluster view.
TEST(Quorum, ASurvivorWithoutTheQuorumListsTheDeadAsUnreachableAndIsNotReady) {
  ClusterHarness c;
  ASSERT_TRUE(start_three_voters(c)) << "three voters were not admitted";
  const std::size_t n1 = 0, n2 = 1, n3 = 2;
  const auto view = [&] { return c.request(n1, "GET", "/api/v1/cluster").json().as_object(); };
  EXPECT_TRUE(view().at("accepts_changes").as_bool());
  EXPECT_FALSE(view().contains("changes_held"));
  EXPECT_EQ(c.request(n1, "GET", "/readyz").status, 200);

  c.stop(n2, SIGTERM);
  c.stop(n3, SIGKILL);
  ASSERT_TRUE(ClusterHarness::eventually(
      [&] { return c.status_seen_by(n1, "n3") == "unreachable"; }, 5s))
      << "n3 is still listed as " << c.status_seen_by(n1, "n3");
  const auto ready = c.request(n1, "GET", "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(ready.body, "not ready: no_quorum\n");
  EXPECT_FALSE(view().at("accepts_changes").as_bool());
  EXPECT_EQ(view().at("changes_held").as_string(), "no_quorum");
  // For good, not for a moment: nobody can declare it down, and nothing brings it back as up.
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(c.status_seen_by(n1, "n3"), "unreachable");
  EXPECT_EQ(c.request(n1, "GET", "/readyz").status, 503);

  // n3 comes back: two of the three voters, the quorum again, and ready.
  c.restart(n3);
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.request(n1, "GET", "/readyz").status == 200; }))
      << c.request(n1, "GET", "/readyz").body;
  // Its store catches up with the newcomer a moment later (catching_up in the view, which
  // /readyz does not count once the node caught up after its own start).
  EXPECT_TRUE(ClusterHarness::eventually([&] { return view().at("accepts_changes").as_bool(); }))
      << boost::json::serialize(view());
  EXPECT_EQ(c.status_seen_by(n1, "n3"), "up");
}

}  // namespace
}  // namespace minotaur
