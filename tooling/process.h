// Child processes of the local-cluster tools (`minotaur local`, the benchmark, the test
// harness): starting one with its output in a log file, stopping one (a signal, a bounded wait,
// then SIGKILL), noticing that one exited, and reading what it uses from /proc.
//
// Every function here is for children of this process: waitpid() reaps them, so a pid must be
// forgotten (set to -1, say) once a function here reports its exit. Blocking; any thread, but one
// thread per child.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace minotaur::tooling {

// Runs argv[0] with `argv`, standard input from /dev/null, standard output and error appended
// to `log_path`, and no other file descriptor of ours: every one from 3 up is closed in the
// child (a listening socket of the caller must not outlive the caller in its children). The
// child's pid, or why it could not be started.
Result<pid_t, std::string> spawn_logged(const std::vector<std::string>& argv,
                                        const std::string& log_path);

// The exit code of child `pid` when it has exited (and is now reaped): its own code, or -signal
// when a signal ended it. nullopt while it runs. Does not wait.
std::optional<int> exited(pid_t pid);

// Waits up to `timeout` for child `pid` to exit: its exit code as exited() gives it, or nullopt
// when it still runs (or is no child of ours). Polls every 0.5 ms, so that a caller measures the
// time to exit to the millisecond.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout);

// How stop_process() ended a child.
struct Stopped {
  int exit_code = 0;                  // as exited() gives it
  double elapsed_ms = 0;              // from the signal to the exit
  bool killed_after_timeout = false;  // it outlived the time-out: SIGKILL ended it
};

// The one way the tools stop a child: sends `signal` (SIGTERM: a deploy, SIGKILL: a crash) and
// waits up to `timeout` for the exit; past it, SIGKILL and a wait for that. An error when `pid`
// is no child of this process (already reaped, say).
Result<Stopped, std::string> stop_process(pid_t pid, int signal, std::chrono::milliseconds timeout);
// The waiting half of stop_process, for children the caller signalled itself at `signalled`
// (every node of a cluster at once, say): never a second signal, which could reach a process
// that already put its handler away on its way out and kill it. SIGKILL once `timeout` from
// `signalled` passed.
Result<Stopped, std::string> await_stop(pid_t pid, std::chrono::steady_clock::time_point signalled,
                                        std::chrono::milliseconds timeout);

// The last `lines` lines of the file at `path` (a child's log, to say why it exited), each
// without its newline; fewer when the file has fewer, none when it cannot be read. Reads at most
// the file's last 64 KiB.
std::vector<std::string> log_tail(const std::string& path, std::size_t lines);

// VmRSS of process `pid` from /proc/PID/status, in bytes; 0 when it cannot be read.
std::uint64_t process_rss_bytes(pid_t pid);
// The CPU time process `pid` has used (user + system, /proc/PID/stat), in ms; 0 when unreadable.
std::uint64_t process_cpu_ms(pid_t pid);

}  // namespace minotaur::tooling
