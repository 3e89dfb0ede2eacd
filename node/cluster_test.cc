// Multi-process tests of the cluster: real `minotaur node` processes on loopback, stopped the way
// a deploy (SIGTERM) or a crash (SIGKILL) stops them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

using namespace std::chrono_literals;
using testing::ClusterHarness;

// The failure bound of cluster/membership.h (1500 ms) plus a heartbeat and slack for a loaded
// CI machine.
constexpr auto kDownBound = 1500ms + 1500ms;

bool all_see(const ClusterHarness& c, const std::vector<std::size_t>& observers,
             const std::string& member, const std::string& status) {
  for (std::size_t o : observers) {
    if (c.status_seen_by(o, member) != status) return false;
  }
  return true;
}

TEST(Cluster, ThreeNodesFormOneClusterFromOneSeed) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start(testing::NodeSpec("n2").seeds({n1}));
  const auto n3 = c.start(testing::NodeSpec("n3").seeds({n1}));
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    for (auto o : {n1, n2, n3}) {
      if (c.members_seen_by(o).size() != 3) return false;
      for (const auto& [name, status] : c.members_seen_by(o)) {
        if (status != "up") return false;
      }
    }
    return true;
  })) << "n3 sees "
      << c.members_seen_by(n3).size() << " members";
}

TEST(Cluster, ASigtermedNodeIsGoneAtOnceAndExitsZero) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  const auto n3 = c.start("n3");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return all_see(c, {n1, n3}, "n2", "up"); }));
  const auto t0 = std::chrono::steady_clock::now();
  c.stop(n2, SIGTERM);
  EXPECT_EQ(c.exit_code(n2), 0);
  // Well inside the failure bound: the others were told, they did not wait for silence.
  EXPECT_TRUE(ClusterHarness::eventually(
      [&] { return c.status_seen_by(n1, "n2") != "up" && c.status_seen_by(n3, "n2") != "up"; },
      400ms));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_EQ(c.status_seen_by(n1, "n1"), "up");
  EXPECT_EQ(c.request(n1, "GET", "/readyz").status, 200);
}

TEST(Cluster, ASigkilledNodeIsDownWithinTheFailureBound) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  const auto n3 = c.start("n3");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return all_see(c, {n1, n3}, "n3", "up"); }));
  c.stop(n3, SIGKILL);
  EXPECT_TRUE(ClusterHarness::eventually(
      [&] {
        return all_see(c, {n1, n2}, "n3", "down");
      },
      kDownBound));
}

// --failure-bound-ms: a cluster on a short bound declares a killed node down well before the
// default bound; a node with the default bound in such a cluster shortens its own quorum lease
// to fit its peers' (one owner), and says so.
TEST(Cluster, AShortFailureBoundDeclaresTheDeadDownSoonerAndLongerBoundsFitIt) {
  ClusterHarness c;
  const std::vector<std::string> short_bound = {"--failure-bound-ms", "300"};
  const auto n1 = c.start(testing::NodeSpec("n1").args(short_bound));
  const auto n2 = c.start(testing::NodeSpec("n2").args(short_bound));
  const auto n3 = c.start(testing::NodeSpec("n3").args(short_bound));
  const auto slow = c.start("slow");  // the default bound, 1500 ms
  ASSERT_TRUE(ClusterHarness::eventually([&] { return all_see(c, {n1, n2, slow}, "n3", "up"); }));
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    return c.log(slow).find("this node's quorum lease is now 200 ms and its heartbeat 40 ms") !=
           std::string::npos;
  })) << c.log(slow);
  const auto t0 = std::chrono::steady_clock::now();
  c.stop(n3, SIGKILL);
  ASSERT_TRUE(ClusterHarness::eventually([&] { return all_see(c, {n1, n2}, "n3", "down"); },
                                         kDownBound));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms)
      << "declared down no sooner than under the default bound";

  const auto bad = c.start(testing::NodeSpec("bad").args({"--failure-bound-ms", "100"}).no_wait());
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.exited(bad); }));
  EXPECT_NE(c.exit_code(bad), 0);
  EXPECT_NE(c.log(bad).find("--failure-bound-ms"), std::string::npos) << c.log(bad);
}

TEST(Cluster, ARestartedNodeRejoinsAsANewIncarnation) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.status_seen_by(n1, "n2") == "up"; }));
  const std::uint64_t before = c.incarnation_seen_by(n1, "n2");
  ASSERT_NE(before, 0u);
  c.stop(n2, SIGKILL);
  c.restart(n2);
  EXPECT_TRUE(ClusterHarness::eventually([&] {
    return c.status_seen_by(n1, "n2") == "up" && c.incarnation_seen_by(n1, "n2") > before;
  }));
  EXPECT_TRUE(ClusterHarness::eventually([&] { return c.status_seen_by(n2, "n1") == "up"; }));
}

TEST(Cluster, ANodeWithTheWrongSecretIsNeverAdmitted) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  // Strong, so that the node starts, but not the cluster's.
  const auto evil = c.start(
      testing::NodeSpec("evil").secret("6DSID8xWTA8IYAfuf/fdjJllwju4mMhrII7wwlqqeGo=").no_wait());
  std::this_thread::sleep_for(2s);  // several reconnect attempts
  for (auto o : {n1, n2}) {
    EXPECT_EQ(c.status_seen_by(o, "evil"), "") << "seen by " << c.name(o);
    EXPECT_EQ(c.members_seen_by(o).size(), 2u);
  }
  EXPECT_NE(c.request(evil, "GET", "/readyz").status, 200);
  EXPECT_NE(c.log(n1).find("failed to prove the cluster secret"), std::string::npos);
  EXPECT_EQ(c.status_seen_by(n1, "n2"), "up");
  EXPECT_EQ(c.status_seen_by(n2, "n1"), "up");
}

// Sends `bytes` to the cluster port and waits until the node closes the connection (or 5 s).
void poke(std::uint16_t port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  char buf[256];
  while (recv(fd, buf, sizeof buf, 0) > 0) {
  }
  close(fd);
}

TEST(Cluster, GarbageOnTheClusterPortChangesNothing) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.status_seen_by(n1, "n2") == "up"; }));
  const std::uint16_t port = c.cluster_port(n1);
  poke(port, "GET / HTTP/1.1\r\n\r\n");                                     // not our protocol
  poke(port, std::string("\xff\xff\xff\xff", 4) + "xxxx");                  // oversized length
  poke(port, std::string("\x00\x00\x00\x10", 4) + "short");                 // truncated frame
  poke(port, std::string("\x00\x00\x00\x05", 4) + "\x0a\x03\x66\x6f\x6f");  // junk message
  poke(port, std::string(5000, '\0'));
  EXPECT_EQ(c.request(n1, "GET", "/readyz").status, 200);
  EXPECT_EQ(c.status_seen_by(n1, "n2"), "up");
  EXPECT_EQ(c.status_seen_by(n2, "n1"), "up");
  const auto metrics = c.request(n1, "GET", "/metrics").body;
  EXPECT_NE(metrics.find("minotaur_cluster_handshake_failures_total"), std::string::npos);
  EXPECT_EQ(metrics.find("minotaur_cluster_handshake_failures_total 0\n"), std::string::npos)
      << metrics;
}

}  // namespace
}  // namespace minotaur
