#include "crdt/bench.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace minotaur::crdt {
namespace {

// A tiny run: the benchmark works and reports every figure. (The full run: crdt_bench.)
TEST(CrdtBench, TinyRunReportsEveryFigure) {
  CrdtBenchOptions o;
  o.keys = 2000;
  o.value_bytes = 100;
  o.latency_samples = 50;
  std::vector<std::string> lines;
  const std::string json = run_crdt_bench(o, [&](std::string_view l) { lines.emplace_back(l); });
  const boost::json::object v = boost::json::parse(json).as_object();
  EXPECT_EQ(v.at("keys").to_number<double>(), 2000);
  EXPECT_EQ(v.at("value_bytes").to_number<double>(), 100);
  for (const char* k : {"converge_ms", "latency_p50_us", "latency_p99_us", "wire_bytes_per_key"}) {
    EXPECT_GT(v.at(k).to_number<double>(), 0) << k;
  }
  EXPECT_GE(v.at("bytes_per_key").to_number<double>(), 0);
  EXPECT_LE(v.at("latency_p50_us").to_number<double>(), v.at("latency_p99_us").to_number<double>());
  EXPECT_GT(v.at("wire_bytes_per_key").to_number<double>(), 100);  // a value is on the wire
  EXPECT_FALSE(lines.empty());
}

}  // namespace
}  // namespace minotaur::crdt
