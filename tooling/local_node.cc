#include "tooling/local_node.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

Readiness wait_ready(pid_t pid, std::uint16_t http_port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (http_get_status(http_port, "/readyz") == 200) return {Readiness::State::kReady, 0};
    if (const auto code = exited(pid)) return {Readiness::State::kExited, *code};
    if (std::chrono::steady_clock::now() >= deadline) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace minotaur::tooling
