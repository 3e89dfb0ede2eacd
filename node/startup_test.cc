// Multi-process tests of what a node refuses at start (a weak cluster secret, missing or
// malformed token keys) and of rotating the token keys of a running cluster, with real
// `minotaur node` processes.
#include <gtest/gtest.h>

#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

using testing::ClusterHarness;
using testing::NodeSpec;

// Starts a node that must refuse to start: waits for its exit and returns its log.
std::string refused(ClusterHarness& c, NodeSpec spec) {
  const std::size_t n = c.start(std::move(spec.no_wait()));
  EXPECT_TRUE(ClusterHarness::eventually([&] { return c.exited(n); })) << "still running";
  EXPECT_EQ(c.exit_code(n), 2);
  EXPECT_NE(c.request(n, "GET", "/healthz").status, 200);
  return c.log(n);
}

TEST(Startup, ANodeWithAWeakClusterSecretRefusesToStartAndSaysHowToMakeOne) {
  ClusterHarness c;
  int i = 0;
  for (const char* cookie : {"s3cret", "passwordpasswordpasswordpassword"}) {
    const std::string log = refused(c, NodeSpec("weak" + std::to_string(++i)).secret(cookie));
    EXPECT_NE(log.find("refusing to start: the cluster secret"), std::string::npos) << log;
    EXPECT_NE(log.find("head -c 32 /dev/urandom | base64 > cookie"), std::string::npos) << log;
  }
}

TEST(Startup, ANodeWithoutTokenKeysRefusesToStartAndSaysHowToCreateThem) {
  ClusterHarness c;
  const std::string log = refused(c, NodeSpec("keyless").without_token_keys());
  EXPECT_NE(log.find("refusing to start: no token keys"), std::string::npos) << log;
  EXPECT_NE(log.find("minotaur token-keys new FILE"), std::string::npos) << log;
  EXPECT_NE(log.find("--token-keys-file FILE"), std::string::npos) << log;
}

TEST(Startup, AMalformedTokenKeysFileIsRefusedNamingTheLine) {
  ClusterHarness c;
  const std::string log = refused(c, NodeSpec("bad").token_keys("# keys\nk1 1000 c2hvcnQ\n"));
  EXPECT_NE(log.find("bad.token-keys line 2: the key has 5 bytes; a key needs at least 32"),
            std::string::npos)
      << log;
}

TEST(Startup, TokensOutliveARotationAndEveryNodeVerifiesEveryToken) {
  ClusterHarness c;
  const auto n1 = c.start("n1");
  const auto n2 = c.start("n2");
  const auto [ana, ana_token] = c.new_user(n1, "Ana");
  EXPECT_EQ(c.request(n2, "POST", "/api/v1/lobbies", "", ana_token).status, 201);

  const auto [code, out] = c.run_minotaur({"token-keys", "new", c.token_keys_file()});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("added key"), std::string::npos) << out;
  c.restart(n1);
  c.restart(n2);
  const auto [bo, bo_token] = c.new_user(n2, "Bo");
  EXPECT_NE(bo_token.substr(0, bo_token.find('.', 3)), ana_token.substr(0, ana_token.find('.', 3)))
      << "the new key signs";
  EXPECT_EQ(c.request(n1, "POST", "/api/v1/lobbies", "", bo_token).status, 201);
  EXPECT_EQ(c.request(n1, "POST", "/api/v1/lobbies", "", ana_token).status, 201)
      << "the old key verifies during the overlap";
  // The first token format, signed with a key derived from the cluster secret: refused.
  EXPECT_EQ(c.request(n1, "POST", "/api/v1/lobbies", "", "v1.e30.abc").status, 401);
}

}  // namespace
}  // namespace minotaur
