// ClusterHarness: real `minotaur node` processes on loopback for multi-process tests (the
// counterpart of the journal's ClusterHelper).
//
// Starts nodes on free 127.0.0.1 ports with a shared secret, waits until each is ready, calls
// their HTTP API, stops them with SIGTERM (a deploy) or SIGKILL (a crash), restarts them, and
// always kills what is left when it goes away. When the current test has failed, the destructor
// prints the tail of every node's log. Not thread-safe: one test thread drives it.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace minotaur::testing {

struct HttpReply {
  int status = 0;  // 0: no answer (connection refused or reset)
  std::string body;
  boost::json::value json() const;  // null when the body is not JSON
};

struct NodeSpec {
  std::string name;
  std::vector<std::string> extra_args;  // e.g. {"--replication", "sync"}
};

class ClusterHarness {
 public:
  static constexpr const char* kAdminToken = "test-admin-token";

  ClusterHarness();
  ~ClusterHarness();
  ClusterHarness(const ClusterHarness&) = delete;
  ClusterHarness& operator=(const ClusterHarness&) = delete;

  // Starts a node (seeded with every node started before it) and waits until /readyz says 200.
  // Returns its index. Fails the test (ADD_FAILURE) when it does not become ready in time.
  std::size_t start(NodeSpec spec, std::int64_t round_time_ms = 30'000);
  void stop(std::size_t node, int signal);  // waits for the exit; records the exit code
  void restart(std::size_t node);           // same name and ports, new process
  int exit_code(std::size_t node) const;    // of the last stop; -signal when killed
  bool running(std::size_t node) const;

  std::uint16_t http_port(std::size_t node) const;
  std::uint16_t cluster_port(std::size_t node) const;
  const std::string& name(std::size_t node) const;
  std::string log(std::size_t node) const;

  HttpReply request(std::size_t node, const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& token = "") const;
  // A new user on `node`: its id and token.
  std::pair<std::string, std::string> new_user(std::size_t node, const std::string& name) const;

  // Retries `check` every 20 ms until it returns true or the time-out passes.
  static bool eventually(const std::function<bool()>& check,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  struct Node {
    NodeSpec spec;
    std::int64_t round_time_ms = 30'000;
    std::uint16_t http_port = 0;
    std::uint16_t cluster_port = 0;
    pid_t pid = -1;
    int exit_code = 0;
    std::string log_path;
  };
  void spawn(Node& node);
  bool wait_ready(std::size_t node);

  std::string dir_;
  std::string cookie_file_;
  std::string admin_file_;
  std::vector<Node> nodes_;
};

// A free TCP port on 127.0.0.1 (bound and released; another process could take it in between).
std::uint16_t free_port();

}  // namespace minotaur::testing
