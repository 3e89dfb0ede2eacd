// ClusterHarness: real `minotaur node` processes on loopback for multi-process tests (the
// counterpart of the journal's ClusterHelper).
//
// Starts nodes on free 127.0.0.1 ports with a shared secret and token keys
// (tooling/cluster_secrets.h), waits until each is ready, calls
// their HTTP API, stops them with SIGTERM (a deploy) or SIGKILL (a crash), restarts them, and
// always kills what is left when it goes away. When the current test has failed, the destructor
// prints the tail of every node's log. Not thread-safe: one test thread drives it.
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tooling/cluster_secrets.h"
#include "tooling/http_client.h"
#include "tooling/local_node.h"

namespace minotaur::testing {

// status 0: no answer (connection refused or reset); json() is null when the body is not JSON.
using HttpReply = tooling::HttpAnswer;

struct NodeSpec {
  NodeSpec() = default;
  NodeSpec(std::string n) : name(std::move(n)) {}  // NOLINT: implicit, c.start("n1")
  NodeSpec(const char* n) : name(n) {}             // NOLINT
  NodeSpec& args(std::vector<std::string> a) {
    extra_args = std::move(a);
    return *this;
  }
  NodeSpec& seeds(std::vector<std::size_t> s) {
    seed_nodes = std::move(s);
    return *this;
  }
  NodeSpec& secret(std::string s) {
    cookie = std::move(s);
    return *this;
  }
  // The node's own token-keys file holds `text` (malformed, say); without_token_keys(): none.
  NodeSpec& token_keys(std::string text) {
    token_keys_text = std::move(text);
    return *this;
  }
  NodeSpec& without_token_keys() {
    no_token_keys = true;
    return *this;
  }
  NodeSpec& no_wait() {
    wait_ready = false;
    return *this;
  }
  // Runs another build's `minotaur` (the previous release, say) instead of this build's.
  NodeSpec& build(std::string executable) {
    binary = std::move(executable);
    return *this;
  }

  std::string name;
  std::vector<std::string> extra_args;  // e.g. {"--replication", "sync"}
  // Which nodes (by index) it is seeded with; by default every other node started so far.
  std::optional<std::vector<std::size_t>> seed_nodes;
  std::string cookie;  // empty: the cluster's secret; set it to start an impostor
  std::optional<std::string> token_keys_text;  // unset: the cluster's token-keys file
  bool no_token_keys = false;                  // true: started without --token-keys-file
  bool wait_ready = true;                      // false: start() returns without waiting for /readyz
  std::string binary;                          // empty: this build's minotaur
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
  // Signals every running node at the same moment (a whole cluster stops), then waits for each.
  void stop_all(int signal);
  void restart(std::size_t node);  // same name and ports, new process
  // The executable the node's next restart runs (a rolling deploy onto another build); empty:
  // this build's.
  void set_build(std::size_t node, std::string executable);
  // This build's `minotaur`, which nodes run unless their spec names another.
  static const char* this_build();
  // Starts these (stopped) nodes together, then waits until each is ready: nodes whose seeds are
  // all down wait for each other to form the cluster (a cold start).
  void restart(const std::vector<std::size_t>& nodes);
  int exit_code(std::size_t node) const;  // of the last stop; -signal when killed
  // SIGSTOP / SIGCONT: the process stalls (as in a long pause) and goes on.
  void pause(std::size_t node);
  void resume(std::size_t node);
  // Whether the process exited by itself (then exit_code says how); does not wait.
  bool exited(std::size_t node);
  bool running(std::size_t node) const;

  std::uint16_t http_port(std::size_t node) const;
  pid_t pid(std::size_t node) const;  // of the running process; -1 when it is not running
  std::uint16_t cluster_port(std::size_t node) const;
  const std::string& name(std::size_t node) const;
  // The cluster secret the nodes share (for tests that speak the cluster protocol themselves).
  const std::string& secret() const { return secrets_.cookie; }
  std::string log(std::size_t node) const;
  // The member list GET /api/v1/cluster of `node` reports: name -> status ("" when unreachable).
  std::vector<std::pair<std::string, std::string>> members_seen_by(std::size_t node) const;
  std::string status_seen_by(std::size_t node, const std::string& member) const;
  std::uint64_t incarnation_seen_by(std::size_t node, const std::string& member) const;

  HttpReply request(std::size_t node, const std::string& method, const std::string& path,
                    const std::string& body = "", const std::string& token = "") const;
  // A new user on `node`: its id and token.
  std::pair<std::string, std::string> new_user(std::size_t node, const std::string& name) const;

  // The token-keys file every node is given (unless its spec says otherwise).
  const std::string& token_keys_file() const { return secrets_.token_keys_file; }
  // Runs `minotaur ARGS...` (a tool subcommand, say `token-keys new FILE`) to its exit, within
  // 30 s: its exit code (-1 when it did not start or finish) and everything it printed.
  // `executable`: another build's minotaur; empty: this build's.
  std::pair<int, std::string> run_minotaur(const std::vector<std::string>& args,
                                           const std::string& executable = "");

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
    std::string cookie_file;
    std::string token_keys_file;  // empty: none given
    std::size_t index = 0;
  };
  void spawn(Node& node);
  bool wait_ready(std::size_t node);

  std::string dir_;
  tooling::ClusterSecrets secrets_;
  std::vector<Node> nodes_;
  int runs_ = 0;  // of run_minotaur, to name their output files
};

// One player of a game given to POST /api/v1/games.
struct PlayerSpec {
  int id = 0;
  std::string user_id;
  std::string display_name;
  int q = 0;
  int r = 0;
};

// The body of POST /api/v1/games (admin) for a game of these players; round_ends_at_ms 0 leaves
// the deadline to the node.
std::string game_json(const std::string& id, const std::vector<PlayerSpec>& players,
                      std::int64_t round_ends_at_ms = 0);

using tooling::free_port;

}  // namespace minotaur::testing
