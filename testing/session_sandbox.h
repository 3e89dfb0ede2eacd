// SessionSandbox: the journal's SessionSandbox + reset_all, for tests that share one cluster.
//
// The suite's cluster (two `minotaur node` processes started with --allow-reset) starts before
// its first test and stays for the whole suite; before every test, reset() drops every session
// and every stash of the cluster (POST /api/v1/admin/reset), so that no test sees another's
// games or lobbies, even under the same ids. Most multi-process tests here start a cluster of
// their own instead, which isolates them as well, at the cost of a cluster start per test.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "testing/cluster_harness.h"

namespace minotaur::testing {

class SessionSandbox : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();

 protected:
  void SetUp() override { reset(); }

  static ClusterHarness& cluster() { return *cluster_; }
  static std::size_t node(std::size_t i) { return i; }  // 0 or 1, in start order
  // Drops every session and stash of the cluster; fails the test when it is refused.
  static void reset();

 private:
  static std::unique_ptr<ClusterHarness> cluster_;
};

}  // namespace minotaur::testing
