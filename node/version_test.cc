// Multi-process tests of what a node says about its build: `minotaur --version`, the cluster
// listing and /metrics, with real `minotaur node` processes.
#include <gtest/gtest.h>

#include <regex>

#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

using testing::ClusterHarness;

struct Build {
  std::string version;
  std::string commit;
};

// What `minotaur --version` prints: "minotaur 0.1.0 (commit 1a2b3c4d5e6f)".
Build version_of_minotaur(ClusterHarness& c) {
  const auto [code, out] = c.run_minotaur({"--version"});
  EXPECT_EQ(code, 0) << out;
  std::smatch m;
  const std::regex line(R"(minotaur (\d+\.\d+\.\d+) \(commit ([0-9a-f]+|unknown)\)\n)");
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

}  // namespace
}  // namespace minotaur
