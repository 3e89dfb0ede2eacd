// Multi-process tests of what a node says about its build, and of the handshake's protocol
// versions between real `minotaur node` processes: a node that shares no protocol version with
// the cluster is refused on both sides and exits, and the cluster goes on; one whose range
// overlaps joins. The ranges are stated with the testing override --unsafe-protocol-range.
#include <gtest/gtest.h>

#include <regex>

#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

using testing::ClusterHarness;
using testing::NodeSpec;

struct Build {
  std::string version;
  std::string commit;
};

// What `minotaur --version` prints: "minotaur 0.1.0 (commit 1a2b3c4d5e6f)" and the protocol
// versions on the next line.
Build version_of_minotaur(ClusterHarness& c) {
  const auto [code, out] = c.run_minotaur({"--version"});
  EXPECT_EQ(code, 0) << out;
  std::smatch m;
  const std::regex line(R"(minotaur (\d+\.\d+\.\d+) \(commit ([0-9a-f]+|unknown)\)\n)"
                        R"(cluster protocol versions (\d+(-\d+)?)\n)");
  EXPECT_TRUE(std::regex_search(out, m, line)) << out;
  if (m.empty()) return {};
  return Build{m[1], m[2]};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Version, TheCommandLineTheClusterListingAndTheMetricsNameTheBuild) {
  ClusterHarness c;
  const Build build = version_of_minotaur(c);
  ASSERT_FALSE(build.version.empty());
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  // Each member's version and commit, its own and the other's (told with NodeInfo).
  EXPECT_TRUE(ClusterHarness::eventually([&] {
    const auto view = c.request(n1, "GET", "/api/v1/cluster").json();
    if (!view.is_object()) return false;
    std::size_t named = 0;
    for (const auto& m : view.at("members").as_array()) {
      const auto& o = m.as_object();
      named += o.at("version") == boost::json::value(build.version) &&
               o.at("commit") == boost::json::value(build.commit);
    }
    return named == 2;
  })) << c.request(n1, "GET", "/api/v1/cluster").body;
  const std::string metrics = c.request(n2, "GET", "/metrics").body;
  EXPECT_TRUE(contains(metrics, "minotaur_build_info{version=\"" + build.version + "\",commit=\"" +
                                    build.commit + "\"} 1\n"))
      << metrics;
}

TEST(Version, ANodeThatSharesNoProtocolVersionIsRefusedOnBothSidesExitsAndTheClusterGoesOn) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  const auto n3 = c.start(NodeSpec("n3").args({"--unsafe-protocol-range", "2-3"}).no_wait());
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.exited(n3); })) << c.log(n3);
  EXPECT_EQ(c.exit_code(n3), 4) << c.log(n3);
  // The joining node names both sides and says what to deploy.
  const std::string log3 = c.log(n3);
  EXPECT_TRUE(contains(log3, "cannot join the cluster")) << log3;
  EXPECT_TRUE(contains(log3, "speaks cluster protocol versions 1,")) << log3;
  EXPECT_TRUE(contains(log3, "can be deployed over builds that speak one of protocol versions 2-3"))
      << log3;
  EXPECT_TRUE(contains(log3, "Deploy a build that speaks one of 1")) << log3;
  // The member it dialed logs the refusal too, with both ranges and both builds.
  const Build build = version_of_minotaur(c);
  EXPECT_TRUE(ClusterHarness::eventually([&] {
    const std::string log1 = c.log(n1);
    return contains(log1, "no protocol version in common") && contains(log1, "n3#") &&
           contains(log1, "speaks protocol versions 2-3") &&
           contains(log1, "this node runs " + build.version) && contains(log1, "and speaks 1.");
  })) << c.log(n1);
  // The cluster goes on without it.
  EXPECT_EQ(c.request(n1, "GET", "/readyz").status, 200);
  EXPECT_EQ(c.request(n2, "GET", "/readyz").status, 200);
  EXPECT_EQ(c.status_seen_by(n1, "n2"), "up");
  EXPECT_EQ(c.status_seen_by(n1, "n3"), "");
  EXPECT_EQ(c.status_seen_by(n2, "n3"), "");
  const auto [user, token] = c.new_user(n2, "Ana");
  EXPECT_EQ(c.request(n1, "POST", "/api/v1/lobbies", "", token).status, 201);
  const std::string metrics = c.request(n1, "GET", "/metrics").body;
  EXPECT_TRUE(contains(metrics, "minotaur_cluster_protocol_refusals_total ") &&
              !contains(metrics, "minotaur_cluster_protocol_refusals_total 0\n"))
      << metrics;
}

TEST(Version, ANodeWhoseRangeOverlapsJoins) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start(NodeSpec("n2").args({"--unsafe-protocol-range", "1-2"}));
  EXPECT_TRUE(ClusterHarness::eventually(
      [&] { return c.status_seen_by(n1, "n2") == "up" && c.status_seen_by(n2, "n1") == "up"; }));
  EXPECT_FALSE(c.exited(n2));
  EXPECT_TRUE(contains(c.log(n2), "stating cluster protocol versions 1-2")) << c.log(n2);
  EXPECT_FALSE(contains(c.log(n1), "no protocol version in common")) << c.log(n1);
}

TEST(Version, AMalformedTestingRangeIsRefusedAtStart) {
  ClusterHarness c;
  const auto n = c.start(NodeSpec("n1").args({"--unsafe-protocol-range", "3-1"}).no_wait());
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.exited(n); }));
  EXPECT_EQ(c.exit_code(n), 2);
  EXPECT_TRUE(contains(c.log(n), "give MIN-MAX with 1 <= MIN <= MAX")) << c.log(n);
}

}  // namespace
}  // namespace minotaur
