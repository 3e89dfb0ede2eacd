#include "tooling/local_node.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "base/assert.h"
#include "tooling/http_client.h"
#include "tooling/process.h"

namespace minotaur::tooling {

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

int listen_on_loopback(int port) {
  if (port < 1 || port > 65535) {
    errno = EINVAL;
    return -1;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 16) != 0) {
    const int error = errno;
    close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

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

namespace {

// Empty when the node on http_port is `expected`; otherwise what answers there instead.
std::string identity_mismatch(std::uint16_t http_port, const NodeIdentity& expected) {
  const boost::json::value view = http_get(http_port, "/api/v1/cluster").json();
  const auto* object = view.if_object();
  const auto text = [object](const char* key) -> std::string {
    const boost::json::value* v = object != nullptr ? object->if_contains(key) : nullptr;
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string name = text("node");
  const std::string run = text("local_run");
  if (name == expected.name && (expected.local_run.empty() || run == expected.local_run)) return {};
  if (name.empty()) return "a process that is no minotaur node";
  return "node " + name + ", which this run did not start";
}

}  // namespace

Readiness wait_ready(pid_t pid, std::uint16_t http_port, std::chrono::milliseconds timeout,
                     const NodeIdentity* expected) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string impostor;
  for (;;) {
    if (http_get_status(http_port, "/readyz") == 200) {
      if (expected == nullptr) return {Readiness::State::kReady, 0, {}};
      std::string other = identity_mismatch(http_port, *expected);
      if (other.empty()) return {Readiness::State::kReady, 0, {}};
      impostor = std::move(other);
    }
    if (const auto code = exited(pid)) return {Readiness::State::kExited, *code, impostor};
    if (std::chrono::steady_clock::now() >= deadline) {
      return {Readiness::State::kTimedOut, 0, impostor};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace minotaur::tooling
