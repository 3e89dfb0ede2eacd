// NodeProcs: the bench's own local cluster — real `minotaur node` processes on 127.0.0.1.
//
// Like `minotaur local` (app/local.cc) but on free ports, with a generated secret, token keys and
// admin token (tooling/cluster_secrets.h) in a new folder under /tmp, and with the operations a
// benchmark needs: stop one node with a signal and measure the time to its exit, start it again
// with the same name and ports, read a node's resident memory. With data dirs, each node keeps its
// replica in a folder of its own (`--data-dir PARENT/nodeN`), the same one across its restarts.
// Every node still running is killed (SIGKILL) when this goes away; the folder (with the nodes'
// logs) stays unless remove_dir() was called. Operating errors (a node that does not start or
// become ready) are values with a message that says where its log is. Not thread-safe: one thread
// drives it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "tooling/cluster_secrets.h"

namespace minotaur::tooling {

struct NodeProcsOptions {
  std::string executable;                   // the `minotaur` binary
  std::vector<std::string> extra_args;      // given to every node, e.g. --replication sync
  std::int64_t round_time_ms = 86'400'000;  // long: no round ends during a run
  std::int64_t ready_timeout_ms = 30'000;
  std::int64_t exit_timeout_ms = 60'000;  // after a signal; then SIGKILL
  // Data dirs: none unless data_dirs. Node nodeN's is data_dir_parent/nodeN, or dir()/data/nodeN
  // when data_dir_parent is empty (then removed with the folder).
  bool data_dirs = false;
  std::string data_dir_parent;
};

class NodeProcs {
 public:
  explicit NodeProcs(NodeProcsOptions options);
  ~NodeProcs();
  NodeProcs(const NodeProcs&) = delete;
  NodeProcs& operator=(const NodeProcs&) = delete;

  // Starts `count` nodes (each seeded with every other) and waits until all are ready. With data
  // dirs, their parent is created if missing, and a node's data dir must not exist yet: one that
  // does holds another run's games (of another cluster, which the node would refuse).
  Result<Ok, std::string> start(std::size_t count);
  // Sends `signal` to node `i` and waits for its exit: the milliseconds from the signal to the
  // exit, and its exit code in `exit_code` (-signal when killed by one).
  Result<double, std::string> stop(std::size_t i, int signal, int& exit_code);
  // Starts node `i` again (same name and ports) and waits until it is ready.
  Result<Ok, std::string> restart(std::size_t i);
  // The `minotaur` binary node `i` runs from its next start on (another build's, in a rolling
  // deploy from one version to another).
  void set_executable(std::size_t i, std::string executable) {
    nodes_.at(i).executable = std::move(executable);
  }

  std::size_t size() const { return nodes_.size(); }
  const std::string& name(std::size_t i) const { return nodes_.at(i).name; }
  std::uint16_t http_port(std::size_t i) const { return nodes_.at(i).http_port; }
  pid_t pid(std::size_t i) const { return nodes_.at(i).pid; }
  const std::string& log_path(std::size_t i) const { return nodes_.at(i).log; }
  const std::string& admin_token() const { return secrets_.admin_token; }
  const std::string& dir() const { return dir_; }
  // The folder of the nodes' data dirs; empty without data dirs.
  const std::string& data_dir_parent() const { return data_dir_parent_; }
  // The folder goes too when this goes away (call it when the logs are of no more use).
  void remove_dir() { remove_dir_ = true; }
  // VmRSS of node `i` from /proc/PID/status, in bytes; 0 when it cannot be read.
  std::uint64_t rss_bytes(std::size_t i) const;

 private:
  struct Node {
    std::string name;
    std::uint16_t http_port = 0;
    std::uint16_t cluster_port = 0;
    pid_t pid = -1;
    std::string log;
    std::string data_dir;    // empty: none
    std::string executable;  // empty: options' executable
  };
  Result<Ok, std::string> spawn(std::size_t i);
  Result<Ok, std::string> wait_ready(std::size_t i);

  NodeProcsOptions options_;
  std::string dir_;
  std::string data_dir_parent_;
  ClusterSecrets secrets_;
  std::string setup_error_;  // why the secrets could not be written; start() returns it
  std::vector<Node> nodes_;
  bool remove_dir_ = false;
};

}  // namespace minotaur::tooling
