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

// Three handshakes under new names, with the real secret and the real transport handshake, left
// a 3-node cluster with six member names, of which three are alive: no quorum any more, and
// none to declare the newcomers down. They never took part, so they must not count.
TEST(Quorum, HandshakesUnderNewNamesDoNotStopTheCluster) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  const auto n3 = c.start("n3");
  // The three are admitted as voters once they confirmed each other for a failure bound.
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    for (auto o : {n1, n2, n3}) {
      if (!holds_quorum_of(c, o, 3)) return false;
    }
    return true;
  })) << "three voters were not admitted";
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

}  // namespace
}  // namespace minotaur
