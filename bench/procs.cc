#include "bench/procs.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <thread>

#include "base/spawn.h"

namespace minotaur::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

}  // namespace

std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  MINOTAUR_ASSERT(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  MINOTAUR_ASSERT(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

int http_get_status(std::uint16_t port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int status = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[64] = {};
      const ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
      if (n > 12) status = std::atoi(buf + 9);
    }
  }
  close(fd);
  return status;
}

std::vector<std::string> node_command(const NodeCommand& c) {
  std::vector<std::string> args{c.executable,
                                "node",
                                "--name",
                                c.name,
                                "--cluster",
                                fmt::format("127.0.0.1:{}", c.cluster_port),
                                "--http",
                                fmt::format("127.0.0.1:{}", c.http_port),
                                "--round-time-ms",
                                std::to_string(c.round_time_ms),
                                "--cookie-file",
                                c.cookie_file,
                                "--admin-token-file",
                                c.admin_token_file};
  if (!c.token_keys_file.empty()) {
    args.push_back("--token-keys-file");
    args.push_back(c.token_keys_file);
  }
  std::string seeds;
  for (const std::uint16_t port : c.seed_ports) {
    if (!seeds.empty()) seeds += ",";
    seeds += fmt::format("127.0.0.1:{}", port);
  }
  if (!seeds.empty()) {
    args.push_back("--seeds");
    args.push_back(seeds);
  }
  args.insert(args.end(), c.extra_args.begin(), c.extra_args.end());
  return args;
}

NodeProcs::NodeProcs(NodeProcsOptions options) : options_(std::move(options)) {
  namespace fs = std::filesystem;
  dir_ = (fs::temp_directory_path() / ("minotaur-bench-" + random_hex(4))).string();
  fs::create_directories(dir_);
  auto secrets = write_cluster_secrets(dir_);
  if (secrets) {
    secrets_ = std::move(secrets.value());
  } else {
    setup_error_ = secrets.error();
  }
}

NodeProcs::~NodeProcs() {
  for (Node& n : nodes_) {
    if (n.pid > 0) {
      kill(n.pid, SIGKILL);
      int status = 0;
      waitpid(n.pid, &status, 0);
    }
  }
  if (remove_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Result<Ok, std::string> NodeProcs::start(std::size_t count) {
  MINOTAUR_ASSERT(nodes_.empty());
  if (!setup_error_.empty()) return err(setup_error_);
  for (std::size_t i = 0; i < count; ++i) {
    Node n;
    n.name = fmt::format("node{}", i + 1);
    n.http_port = free_port();
    n.cluster_port = free_port();
    n.log = fmt::format("{}/{}.log", dir_, n.name);
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
  NodeCommand command{options_.executable,
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
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.ready_timeout_ms);
  while (Clock::now() < deadline) {
    if (http_get_status(n.http_port, "/readyz") == 200) return Ok{};
    int status = 0;
    if (waitpid(n.pid, &status, WNOHANG) == n.pid) {
      n.pid = -1;
      return err(fmt::format("{} exited while starting; its log {} says why", n.name, n.log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return err(fmt::format("{} not ready after {} ms; see its log {}", n.name,
                         options_.ready_timeout_ms, n.log));
}

Result<double, std::string> NodeProcs::stop(std::size_t i, int signal, int& exit_code) {
  Node& n = nodes_.at(i);
  if (n.pid <= 0) return err(fmt::format("{} is not running", n.name));
  const auto began = Clock::now();
  kill(n.pid, signal);
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(n.pid, &status, WNOHANG);
    if (r == n.pid) break;
    if (r < 0) return err(fmt::format("waiting for {} failed; is it our child?", n.name));
    if (Clock::now() - began > std::chrono::milliseconds(options_.exit_timeout_ms)) {
      kill(n.pid, SIGKILL);
      waitpid(n.pid, &status, 0);
      n.pid = -1;
      return err(fmt::format("{} did not exit {} ms after signal {}; killed it; see {}", n.name,
                             options_.exit_timeout_ms, signal, n.log));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - began).count();
  n.pid = -1;
  exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  return ms;
}

Result<Ok, std::string> NodeProcs::restart(std::size_t i) {
  MINOTAUR_ASSERT(nodes_.at(i).pid <= 0);
  auto s = spawn(i);
  if (!s) return s;
  return wait_ready(i);
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

std::uint64_t NodeProcs::rss_bytes(std::size_t i) const {
  return process_rss_bytes(nodes_.at(i).pid);
}

}  // namespace minotaur::bench
