// `minotaur bench --from-binary` in a tiny configuration: a cluster of the previous release's
// build (compat/previous) rolled onto this one under load loses nothing, and the JSON names
// both builds. Never timings.
#include <gtest/gtest.h>

#include "bench/bench_run.h"

namespace {

using minotaur::bench::testing::parse;
using minotaur::bench::testing::run;

TEST(BenchCompat, ARollFromThePreviousReleaseLosesNothing) {
  const auto r = run(std::string("--sessions 50 --nodes 3 --duration-s 3 --clients 4 --phase-s 0 "
                                 "--memory-sessions 0 --from-binary ") +
                     MINOTAUR_PREVIOUS_BINARY);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = parse(r);
  ASSERT_FALSE(j.empty());
  EXPECT_NE(j.at("from_build"), j.at("to_build")) << r.out;
  EXPECT_GT(j.at("acked_actions").as_int64(), 0);
  EXPECT_EQ(j.at("lost_actions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("lost_sessions").as_int64(), 0) << r.out;
  EXPECT_EQ(j.at("unreadable_sessions").as_int64(), 0) << r.out;
  for (const auto& code : j.at("exit_codes").as_array()) EXPECT_EQ(code.as_int64(), 0) << r.out;
}

}  // namespace
