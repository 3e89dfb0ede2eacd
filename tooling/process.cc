#include "tooling/process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

extern char** environ;

namespace minotaur::tooling {
namespace {

using Clock = std::chrono::steady_clock;

int exit_code_of(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -WTERMSIG(wait_status);
}

// Like wait_exit(), and tells a pid that is no child of ours (waitpid fails) apart.
Result<std::optional<int>, std::string> wait_child(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return std::optional<int>(exit_code_of(status));
    if (r < 0) return err(fmt::format("waiting for pid {} failed; is it our child?", pid));
    if (Clock::now() >= deadline) return std::optional<int>();
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

}  // namespace

Result<pid_t, std::string> spawn_logged(const std::vector<std::string>& args,
                                        const std::string& log_path) {
  MINOTAUR_ASSERT(!args.empty());
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return err("cannot start " + args[0] + ": " + std::strerror(rc) +
               "; check that the file exists and is executable");
  }
  return pid;
}

std::optional<int> exited(pid_t pid) {
  int status = 0;
  if (pid <= 0 || waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
  return exit_code_of(status);
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto code = wait_child(pid, timeout);
  return code ? code.value() : std::nullopt;
}

Result<Stopped, std::string> stop_process(pid_t pid, int signal,
                                          std::chrono::milliseconds timeout) {
  MINOTAUR_ASSERT(pid > 0);
  const auto began = Clock::now();
  kill(pid, signal);
  return await_stop(pid, began, timeout);
}

Result<Stopped, std::string> await_stop(pid_t pid, std::chrono::steady_clock::time_point signalled,
                                        std::chrono::milliseconds timeout) {
  MINOTAUR_ASSERT(pid > 0);
  const auto began = signalled;
  const auto left = std::max(
      std::chrono::milliseconds(0),
      timeout - std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - signalled));
  auto waited = wait_child(pid, left);
  if (!waited) return err(waited.error());
  Stopped out;
  std::optional<int> code = waited.value();
  if (!code) {
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    out.killed_after_timeout = true;
    code = exit_code_of(status);
  }
  out.exit_code = *code;
  out.elapsed_ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
  return out;
}

std::vector<std::string> log_tail(const std::string& path, std::size_t lines) {
  constexpr std::streamoff kMaxBytes = 64 * 1024;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return {};
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > kMaxBytes ? size - kMaxBytes : 0;
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> all;
  std::istringstream s(text);
  for (std::string line; std::getline(s, line);) all.push_back(line);
  if (from > 0 && !all.empty()) all.erase(all.begin());  // the cut first line is partial
  if (all.size() > lines) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(lines));
  return all;
}

std::uint64_t process_rss_bytes(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream s(line.substr(6));
      std::uint64_t kib = 0;
      s >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

std::uint64_t process_cpu_ms(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces, so start after its ')'): state is
  // field 3, utime and stime are fields 14 and 15, in clock ticks.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream s(stat.substr(close + 2));
  std::string field;
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
  for (int i = 3; i <= 15 && s >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  const long ticks = sysconf(_SC_CLK_TCK);
  return ticks > 0 ? (utime + stime) * 1000 / static_cast<std::uint64_t>(ticks) : 0;
}

}  // namespace minotaur::tooling
