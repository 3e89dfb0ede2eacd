#include "tooling/node_procs.h"

#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "tooling/local_node.h"
#include "tooling/process.h"

namespace minotaur::tooling {
namespace {

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

}  // namespace

NodeProcs::NodeProcs(NodeProcsOptions options) : options_(std::move(options)) {
  namespace fs = std::filesystem;
  dir_ = (fs::temp_directory_path() / ("minotaur-bench-" + random_hex(4))).string();
  fs::create_directories(dir_);
  if (options_.data_dirs) {
    data_dir_parent_ = options_.data_dir_parent.empty() ? dir_ + "/data" : options_.data_dir_parent;
  }
  auto secrets = write_cluster_secrets(dir_);
  if (secrets) {
    secrets_ = std::move(secrets.value());
  } else {
    setup_error_ = secrets.error();
  }
}

NodeProcs::~NodeProcs() {
  for (Node& n : nodes_) {
    if (n.pid > 0) (void)stop_process(n.pid, SIGKILL, std::chrono::milliseconds(0));
  }
  if (remove_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Result<Ok, std::string> NodeProcs::start(std::size_t count) {
  MINOTAUR_ASSERT(nodes_.empty());
  if (!setup_error_.empty()) return err(setup_error_);
  namespace fs = std::filesystem;
  if (!data_dir_parent_.empty()) {
    std::error_code ec;
    fs::create_directories(data_dir_parent_, ec);
    if (ec) return err(fmt::format("cannot create {}: {}", data_dir_parent_, ec.message()));
  }
  for (std::size_t i = 0; i < count; ++i) {
    Node n;
    n.name = fmt::format("node{}", i + 1);
    n.http_port = free_port();
    n.cluster_port = free_port();
    n.log = fmt::format("{}/{}.log", dir_, n.name);
    if (!data_dir_parent_.empty()) {
      n.data_dir = fmt::format("{}/{}", data_dir_parent_, n.name);
      std::error_code ec;
      if (fs::exists(n.data_dir, ec) || ec) {
        return err(fmt::format(
            "{} exists: it holds the games of another run (another cluster); remove it or give "
            "another folder",
            n.data_dir));
      }
    }
    nodes_.push_back(n);
  }
  for (std::size_t i = 0; i < count; ++i) {
    auto s = spawn(i);
    if (!s) return s;
  }
  for (std::size_t i = 0; i < count; ++i) {
    auto r = wait_ready(i);
    if (!r) return r;
  }
  return Ok{};
}

Result<Ok, std::string> NodeProcs::spawn(std::size_t i) {
  Node& n = nodes_.at(i);
  // The benchmark drives every session from this one address: no client budgets.
  std::vector<std::string> args{"--client-limits", "off"};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  if (!n.data_dir.empty()) {
    args.push_back("--data-dir");
    args.push_back(n.data_dir);
  }
  NodeCommand command{nodes_[i].executable.empty() ? options_.executable : nodes_[i].executable,
                      n.name,
                      n.cluster_port,
                      n.http_port,
                      options_.round_time_ms,
                      secrets_.cookie_file,
                      secrets_.token_keys_file,
                      secrets_.admin_token_file,
                      {},
                      args};
  for (const Node& other : nodes_) {
    if (&other != &n) command.seed_ports.push_back(other.cluster_port);
  }
  auto pid = spawn_logged(node_command(command), n.log);
  if (!pid) return err(pid.error());
  n.pid = pid.value();
  return Ok{};
}

Result<Ok, std::string> NodeProcs::wait_ready(std::size_t i) {
  Node& n = nodes_.at(i);
  const Readiness r =
      tooling::wait_ready(n.pid, n.http_port, std::chrono::milliseconds(options_.ready_timeout_ms));
  switch (r.state) {
    case Readiness::State::kReady:
      return Ok{};
    case Readiness::State::kExited:
      n.pid = -1;
      return err(fmt::format("{} exited while starting; its log {} says why", n.name, n.log));
    case Readiness::State::kTimedOut:
      break;
  }
  return err(fmt::format("{} not ready after {} ms; see its log {}", n.name,
                         options_.ready_timeout_ms, n.log));
}

Result<double, std::string> NodeProcs::stop(std::size_t i, int signal, int& exit_code) {
  Node& n = nodes_.at(i);
  if (n.pid <= 0) return err(fmt::format("{} is not running", n.name));
  auto stopped = stop_process(n.pid, signal, std::chrono::milliseconds(options_.exit_timeout_ms));
  if (!stopped) return err(fmt::format("{}: {}", n.name, stopped.error()));
  n.pid = -1;
  exit_code = stopped.value().exit_code;
  if (stopped.value().killed_after_timeout) {
    return err(fmt::format("{} did not exit {} ms after signal {}; killed it; see {}", n.name,
                           options_.exit_timeout_ms, signal, n.log));
  }
  return stopped.value().elapsed_ms;
}

Result<Ok, std::string> NodeProcs::restart(std::size_t i) {
  MINOTAUR_ASSERT(nodes_.at(i).pid <= 0);
  auto s = spawn(i);
  if (!s) return s;
  return wait_ready(i);
}

std::uint64_t NodeProcs::rss_bytes(std::size_t i) const {
  return process_rss_bytes(nodes_.at(i).pid);
}

}  // namespace minotaur::tooling
