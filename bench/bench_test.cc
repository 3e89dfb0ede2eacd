// `minotaur bench` in a tiny configuration, as a user runs it: a real 3-node cluster restarted
// under load, gracefully and with SIGKILL (--replication sync), with SIGKILL with data dirs, and
// with a PostgreSQL server the bench starts.
// Asserted: it completes, prints one JSON object, and loses neither an acknowledged action nor a
// session. Never timings.
#include <gtest/gtest.h>

#include <filesystem>

#include "bench/bench_run.h"

namespace {

using minotaur::bench::testing::BenchRun;
using minotaur::bench::testing::parse;
using minotaur::bench::testing::run;

TEST(BenchTest, GracefulRollingRestartLosesNothing) {
  const BenchRun r =
      run("--sessions 50 --nodes 3 --duration-s 3 --clients 4 --phase-s 0.5 --memory-sessions 200");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = parse(r);
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j.at("sessions").as_int64(), 50);
  EXPECT_GT(j.at("acked_actions").as_int64(), 0);
  EXPECT_EQ(j.at("lost_actions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("lost_sessions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("unreadable_sessions").as_int64(), 0) << r.out;
  EXPECT_FALSE(j.at("data_dirs").as_bool());
  ASSERT_EQ(j.at("drain_ms").as_array().size(), 3u);
  for (const auto& code : j.at("exit_codes").as_array()) EXPECT_EQ(code.as_int64(), 0) << r.out;
  for (const char* key : {"actions_per_s", "pause_ms", "bytes_per_session", "latency_ms"}) {
    EXPECT_TRUE(j.contains(key)) << key << " missing: " << r.out;
  }
  // Every action costs the nodes some CPU; a second of it per action would be a misread clock.
  for (const char* phase : {"local", "forwarded"}) {
    const double cpu = j.at("node_cpu_ms_per_1k_actions").at(phase).to_number<double>();
    EXPECT_GT(cpu, 0) << phase << ": " << r.out;
    EXPECT_LT(cpu, 1'000'000) << phase << ": " << r.out;
  }
}

TEST(BenchTest, KilledNodesWithSyncReplicationLoseNothing) {
  const BenchRun r =
      run("cluster --sessions 50 --nodes 3 --duration-s 3 --clients 4 --kill --replication sync "
          "--phase-s 0 --memory-sessions 0");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = parse(r);
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j.at("stop_signal").as_string(), "SIGKILL");
  EXPECT_GT(j.at("acked_actions").as_int64(), 0);
  EXPECT_EQ(j.at("lost_actions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("lost_sessions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("unreadable_sessions").as_int64(), 0) << r.out;
}

// Killed nodes start again from their own data dirs, in a folder given to keep.
TEST(BenchTest, KilledNodesWithDataDirsLoseNothing) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(testing::TempDir()) / "bench_test_data_dirs";
  fs::remove_all(dir);
  const BenchRun r =
      run("--sessions 50 --nodes 3 --duration-s 3 --clients 4 --kill "
          "--replication sync --phase-s 0 --memory-sessions 200 --data-dir " +
          dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = parse(r);
  ASSERT_FALSE(j.empty());
  EXPECT_TRUE(j.at("data_dirs").as_bool());
  EXPECT_GT(j.at("acked_actions").as_int64(), 0);
  EXPECT_EQ(j.at("lost_actions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("lost_sessions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("unreadable_sessions").as_int64(), 0) << r.out;
  for (const char* node : {"node1", "node2", "node3", "memory/node1"}) {
    EXPECT_TRUE(fs::exists(dir / node / "store.db")) << node << " has no store.db";
  }
  fs::remove_all(dir);
}

// The nodes share a PostgreSQL server the bench started: their rows are written and how far
// behind they ran is sampled while the load goes on.
TEST(BenchTest, WithADatabaseItsRowsAreWrittenAndItsLagSampled) {
  const BenchRun r =
      run("--sessions 50 --nodes 3 --duration-s 3 --clients 4 --phase-s 0 --memory-sessions 0 "
          "--database");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = parse(r);
  ASSERT_FALSE(j.empty());
  EXPECT_TRUE(j.at("database").as_bool());
  EXPECT_EQ(j.at("lost_actions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("lost_sessions").as_int64(), 0) << r.out;
  EXPECT_GT(j.at("database_lag").at("lag_ms").at("samples").as_int64(), 0) << r.out;
  EXPECT_GT(j.at("router_counters").at("database_rows_written").to_number<double>(), 0) << r.out;
}

}  // namespace
