// One `minotaur node` process on 127.0.0.1, as the local-cluster tools start it: its command
// line, free ports for it, and the wait until it is ready. `minotaur local`, the benchmark's
// NodeProcs and the test harness start every node through these, so that all three start nodes
// the same way.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace minotaur::tooling {

// The command line of one `minotaur node` on 127.0.0.1, seeded with the other nodes' cluster
// ports.
struct NodeCommand {
  std::string executable;
  std::string name;
  std::uint16_t cluster_port = 0;
  std::uint16_t http_port = 0;
  std::int64_t round_time_ms = 30'000;
  std::string cookie_file;
  std::string token_keys_file;  // empty: no --token-keys-file (a node that must refuse to start)
  std::string admin_token_file;
  std::vector<std::uint16_t> seed_ports;
  std::vector<std::string> extra_args;
};
std::vector<std::string> node_command(const NodeCommand& command);

// A free TCP port on 127.0.0.1 (bound and released; another process could take it in between).
std::uint16_t free_port();

// How waiting for a node to be ready ended.
struct Readiness {
  enum class State {
    kReady,     // GET /readyz answered 200
    kExited,    // the process exited first (and is reaped: forget its pid)
    kTimedOut,  // still not ready, still running
  };
  State state = State::kTimedOut;
  int exit_code = 0;  // kExited: as tooling::exited() gives it
};

// Asks GET /readyz of 127.0.0.1:http_port every 20 ms until it answers 200, child `pid` exits,
// or `timeout` passes.
Readiness wait_ready(pid_t pid, std::uint16_t http_port, std::chrono::milliseconds timeout);

}  // namespace minotaur::tooling
