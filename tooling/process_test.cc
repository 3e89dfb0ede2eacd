// Child processes: stopping one with a signal, and with SIGKILL when it ignores the signal.
#include "tooling/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace minotaur::tooling {
namespace {

using std::chrono::milliseconds;

// A log file of this test process's own (its children append to it).
std::string log_path() {
  return (std::filesystem::temp_directory_path() /
          ("minotaur-tooling-test-" + std::to_string(getpid()) + ".log"))
      .string();
}

pid_t start_shell(const std::string& script) {
  std::filesystem::remove(log_path());
  auto pid = spawn_logged({"/bin/sh", "-c", script}, log_path());
  EXPECT_TRUE(pid.ok()) << pid.error();
  return pid.ok() ? pid.value() : -1;
}

class ProcessTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(log_path()); }
};

// Waits (10 s at most) until the child's output holds `text`.
bool printed(const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(log_path());
    std::stringstream s;
    s << in.rdbuf();
    if (s.str().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

TEST_F(ProcessTest, StopsAChildWithTheSignal) {
  const pid_t pid = start_shell("exec sleep 30");
  ASSERT_GT(pid, 0);
  EXPECT_FALSE(exited(pid).has_value());
  auto stopped = stop_process(pid, SIGTERM, milliseconds(10'000));
  ASSERT_TRUE(stopped.ok()) << stopped.error();
  EXPECT_EQ(stopped.value().exit_code, -SIGTERM);
  EXPECT_FALSE(stopped.value().killed_after_timeout);
  EXPECT_LT(stopped.value().elapsed_ms, 10'000);
}

TEST_F(ProcessTest, KillsAChildThatOutlivesTheTimeout) {
  const pid_t pid = start_shell("trap '' TERM; echo ignoring; while :; do sleep 0.05; done");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(printed("ignoring"));  // the trap is set: SIGTERM does nothing now
  auto stopped = stop_process(pid, SIGTERM, milliseconds(100));
  ASSERT_TRUE(stopped.ok()) << stopped.error();
  EXPECT_TRUE(stopped.value().killed_after_timeout);
  EXPECT_EQ(stopped.value().exit_code, -SIGKILL);
}

TEST_F(ProcessTest, ReportsTheExitCodeOfAChildThatEnded) {
  const pid_t pid = start_shell("exit 7");
  ASSERT_GT(pid, 0);
  EXPECT_EQ(wait_exit(pid, milliseconds(10'000)), 7);
}

TEST_F(ProcessTest, ExplainsAProgramThatCannotStart) {
  std::filesystem::remove(log_path());
  auto pid = spawn_logged({"/nonexistent/minotaur"}, log_path());
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().find("/nonexistent/minotaur"), std::string::npos) << pid.error();
}

// A socket the parent holds (a listening port, say) must not stay open in its children, or it
// outlives the parent there: the child gets no descriptor but its standard input and output.
TEST_F(ProcessTest, AChildInheritsNoDescriptorButItsStandardOnes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);  // no close-on-exec, on purpose
  ASSERT_GE(fd, 3);
  const pid_t pid = start_shell("if [ -e /proc/$$/fd/" + std::to_string(fd) +
                                " ]; then echo inherited; else echo not-inherited; fi");
  ASSERT_GT(pid, 0);
  EXPECT_EQ(wait_exit(pid, milliseconds(10'000)), 0);
  EXPECT_TRUE(printed("not-inherited"));
  close(fd);
}

TEST_F(ProcessTest, LogTailGivesTheLastLines) {
  {
    std::ofstream out(log_path());
    for (int i = 1; i <= 5; ++i) out << "line " << i << "\n";
  }
  EXPECT_EQ(log_tail(log_path(), 2), (std::vector<std::string>{"line 4", "line 5"}));
  EXPECT_EQ(log_tail(log_path(), 10).size(), 5u);
  EXPECT_TRUE(log_tail("/nonexistent/minotaur.log", 3).empty());
}

}  // namespace
}  // namespace minotaur::tooling
