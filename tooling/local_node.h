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

// A socket listening on 127.0.0.1:port, close-on-exec, with SO_REUSEADDR as the nodes bind (a
// port whose last connection is only in TIME_WAIT counts as free); -1, with errno set, when the
// port is taken (or out of range). The caller closes it.
int listen_on_loopback(int port);

// A free TCP port on 127.0.0.1 (bound and released; another process could take it in between).
std::uint16_t free_port();

// Who a node that answers on a port must be, so that a readiness check does not take another
// process on that port (a node of another cluster, say) for the node it started: the name
// GET /api/v1/cluster gives as "node", and, when not empty, the "local_run" it gives — the value
// the node was started with in the environment variable MINOTAUR_LOCAL_RUN (kLocalRunEnv),
// which `minotaur local` makes new for each run.
struct NodeIdentity {
  std::string name;
  std::string local_run;
};
inline constexpr const char* kLocalRunEnv = "MINOTAUR_LOCAL_RUN";

// How waiting for a node to be ready ended.
struct Readiness {
  enum class State {
    kReady,     // GET /readyz answered 200 (and, when asked, the node is the one expected)
    kExited,    // the process exited first (and is reaped: forget its pid)
    kTimedOut,  // still not ready, still running
  };
  State state = State::kTimedOut;
  int exit_code = 0;  // kExited: as tooling::exited() gives it
  // What answered on the port in its stead, when something did (kTimedOut, kExited): e.g.
  // "node node1, which this run did not start". Empty when nothing else answered.
  std::string impostor;
};

// Asks GET /readyz of 127.0.0.1:http_port every 20 ms until it answers 200, child `pid` exits,
// or `timeout` passes. With `expected`, a 200 counts only once GET /api/v1/cluster says the node
// is that one; an answer from another is remembered in Readiness::impostor, and the wait goes on
// (the child, which cannot listen on a port in use, exits meanwhile).
Readiness wait_ready(pid_t pid, std::uint16_t http_port, std::chrono::milliseconds timeout,
                     const NodeIdentity* expected = nullptr);

}  // namespace minotaur::tooling
