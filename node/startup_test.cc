// Multi-process tests of what a node refuses at start (a weak cluster secret, missing or
// malformed token keys), of its logs as JSON, and of rotating the token keys of a running
// cluster, with real `minotaur node` processes.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <sstream>
#include <string>

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

// --log-format json: every line of a node's log, from its start to its drain, is one JSON object
// with the node's name, for a log collector; a refusal at start is such a line too.
TEST(Startup, JsonLogsAreOneObjectALineFromStartToExit) {
  ClusterHarness c;
  const std::size_t n = c.start(NodeSpec("jn1").args({"--log-format", "json"}));
  c.stop(n, SIGTERM);
  EXPECT_EQ(c.exit_code(n), 0);
  const std::string log = c.log(n);
  std::istringstream lines(log);
  std::string line;
  int count = 0;
  bool serving = false, drained = false;
  while (std::getline(lines, line)) {
    ++count;
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(v.is_object()) << line;
    const auto& o = v.as_object();
    EXPECT_EQ(o.at("node"), "jn1") << line;
    EXPECT_TRUE(o.at("time").is_string() && o.at("level").is_string()) << line;
    const std::string message(o.at("message").as_string());
    serving = serving || message.find("serving HTTP on") != std::string::npos;
    drained = drained || message.find("drained in") != std::string::npos;
  }
  EXPECT_GT(count, 3) << log;
  EXPECT_TRUE(serving && drained) << log;

  const std::string refusal =
      refused(c, NodeSpec("jn2").args({"--log-format", "json"}).without_token_keys());
  const boost::json::value first = boost::json::parse(refusal.substr(0, refusal.find('\n')));
  EXPECT_EQ(first.at("level"), "error") << refusal;
  EXPECT_NE(std::string(first.at("message").as_string()).find("refusing to start"),
            std::string::npos)
      << refusal;
}

// A malformed seed is refused at start: skipped, it could leave a node with no seed that
// resolves, waiting for one forever.
TEST(Startup, AMalformedSeedIsRefusedNamingIt) {
  ClusterHarness c;
  const std::string log = refused(c, NodeSpec("badseed").args({"--seeds", "nocolon"}));
  EXPECT_NE(log.find("--seeds: 'nocolon' is not HOST:PORT"), std::string::npos) << log;
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
