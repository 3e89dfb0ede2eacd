#include "testing/session_sandbox.h"

namespace minotaur::testing {

std::unique_ptr<ClusterHarness> SessionSandbox::cluster_;

void SessionSandbox::SetUpTestSuite() {
  cluster_ = std::make_unique<ClusterHarness>();
  const std::vector<std::string> args = {"--allow-reset"};
  const auto a = cluster_->start(NodeSpec("sandbox1").args(args));
  const auto b = cluster_->start(NodeSpec("sandbox2").args(args));
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    return cluster_->members_seen_by(a).size() == 2 && cluster_->members_seen_by(b).size() == 2;
  })) << "the sandbox cluster did not form";
}

void SessionSandbox::TearDownTestSuite() {
  cluster_.reset();
}

void SessionSandbox::reset() {
  ASSERT_TRUE(cluster_) << "the sandbox cluster did not start";
  const auto r =
      cluster_->request(node(0), "POST", "/api/v1/admin/reset", "", ClusterHarness::kAdminToken);
  ASSERT_EQ(r.status, 200) << "the sandbox reset was refused: " << r.body;
}

}  // namespace minotaur::testing
