// The bench tests' way of running `minotaur bench` as a user does: ARGS after `bench`, its
// standard output (the JSON object) and exit code; progress goes to the test's stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <cstdio>
#include <string>

namespace minotaur::bench::testing {

struct BenchRun {
  int exit_code = -1;
  std::string out;
};

inline BenchRun run(const std::string& args) {
  BenchRun r;
  const std::string command = std::string(MINOTAUR_BINARY) + " bench " + args;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline boost::json::object parse(const BenchRun& r) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(r.out, ec);
  EXPECT_FALSE(ec) << "not JSON: " << r.out;
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

}  // namespace minotaur::bench::testing
