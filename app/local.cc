#include "app/local.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tooling/cluster_secrets.h"
#include "tooling/http_client.h"
#include "tooling/local_node.h"
#include "tooling/process.h"

namespace minotaur::app {
namespace {

int signal_pipe[2] = {-1, -1};

void on_signal(int) {
  const char c = 's';
  (void)!write(signal_pipe[1], &c, 1);
}

struct NodeProc {
  int index = 0;
  std::string name;
  int http_port = 0;
  int cluster_port = 0;
  pid_t pid = -1;
  std::string log;
};

class Local {
 public:
  Local(const LocalOptions& o, std::string exe) : o_(o), exe_(std::move(exe)) {}

  int run() {
    namespace fs = std::filesystem;
    const std::string dir = o_.dir.empty() ? default_dir() : o_.dir;
    data_dir_ = dir + "/data";
    std::error_code ec;
    if (o_.fresh && fs::exists(data_dir_)) {
      fs::remove_all(data_dir_, ec);
      if (ec) {
        std::fprintf(stderr, "local: cannot remove %s (%s); remove it by hand, or give --dir\n",
                     data_dir_.c_str(), ec.message().c_str());
        return 1;
      }
      std::printf("local: --fresh: removed the games of the last run (%s)\n", data_dir_.c_str());
    }
    fs::create_directories(data_dir_, ec);
    if (ec) {
      std::fprintf(stderr, "local: cannot create %s (%s); give another folder with --dir\n",
                   data_dir_.c_str(), ec.message().c_str());
      return 1;
    }
    auto secrets = tooling::write_cluster_secrets(dir);
    if (!secrets) {
      std::fprintf(stderr, "local: %s\n", secrets.error().c_str());
      return 1;
    }
    secrets_ = std::move(secrets.value());

    for (int i = 1; i <= o_.nodes; ++i) {
      NodeProc n;
      n.index = i;
      n.name = fmt::format("node{}", i);
      n.http_port = o_.first_http_port + i - 1;
      n.cluster_port = o_.first_cluster_port + i - 1;
      n.log = fmt::format("{}/{}.log", dir, n.name);
      nodes_.push_back(n);
    }
    open_control();
    std::printf(
        "local: starting %d nodes; their folder is %s (secret, token keys, admin token, logs, "
        "and the games in data/: a new start brings them back; --fresh starts empty)\n",
        o_.nodes, dir.c_str());
    for (NodeProc& n : nodes_) {
      if (!start(n)) return stop_all(1);
    }
    for (NodeProc& n : nodes_) {
      if (!wait_ready(n)) return stop_all(1);
    }
    std::printf(
        "\nMinotaur is running: open http://127.0.0.1:%d\n"
        "Commands: restart N (graceful SIGTERM and start again), kill N (SIGKILL and start "
        "again), roll (restart every node in turn), status, quit. Ctrl-C stops everything.\n\n",
        o_.first_http_port);
    std::fflush(stdout);
    return loop();
  }

 private:
  bool start(NodeProc& n) {
    tooling::NodeCommand command{exe_,
                                 n.name,
                                 static_cast<std::uint16_t>(n.cluster_port),
                                 static_cast<std::uint16_t>(n.http_port),
                                 o_.round_time_ms,
                                 secrets_.cookie_file,
                                 secrets_.token_keys_file,
                                 secrets_.admin_token_file,
                                 {},
                                 {"--data-dir", data_dir_ + "/" + n.name}};
    for (const NodeProc& other : nodes_) {
      if (other.index != n.index) {
        command.seed_ports.push_back(static_cast<std::uint16_t>(other.cluster_port));
      }
    }
    const std::vector<std::string> args = tooling::node_command(command);
    auto pid = tooling::spawn_logged(args, n.log);
    if (!pid) {
      std::fprintf(stderr, "local: %s\n", pid.error().c_str());
      n.pid = -1;
      return false;
    }
    n.pid = pid.value();
    std::printf("local: %s started (pid %d, http 127.0.0.1:%d, log %s)\n", n.name.c_str(), n.pid,
                n.http_port, n.log.c_str());
    std::fflush(stdout);
    return true;
  }

  bool wait_ready(NodeProc& n) {
    const tooling::Readiness r = tooling::wait_ready(n.pid, static_cast<std::uint16_t>(n.http_port),
                                                     std::chrono::seconds(20));
    switch (r.state) {
      case tooling::Readiness::State::kReady:
        std::printf("local: %s ready\n", n.name.c_str());
        std::fflush(stdout);
        return true;
      case tooling::Readiness::State::kExited:
        std::fprintf(stderr, "local: %s exited while starting; its log %s says why\n",
                     n.name.c_str(), n.log.c_str());
        n.pid = -1;
        return false;
      case tooling::Readiness::State::kTimedOut:
        break;
    }
    std::fprintf(stderr, "local: %s not ready after 20 s; see %s\n", n.name.c_str(), n.log.c_str());
    return false;
  }

  // Sends `sig` and waits for the exit; SIGKILL after 30 s.
  void stop(NodeProc& n, int sig) {
    if (n.pid <= 0) return;
    report_stop(n, sig, tooling::stop_process(n.pid, sig, std::chrono::seconds(30)));
  }

  void report_stop(NodeProc& n, int sig, const Result<tooling::Stopped, std::string>& stopped) {
    n.pid = -1;
    if (!stopped) {
      std::fprintf(stderr, "local: %s: %s\n", n.name.c_str(), stopped.error().c_str());
      return;
    }
    const tooling::Stopped& s = stopped.value();
    if (s.killed_after_timeout) {
      std::fprintf(stderr, "local: %s did not exit 30 s after the signal; killed it\n",
                   n.name.c_str());
    }
    std::printf("local: %s stopped by %s in %.0f ms (%s)\n", n.name.c_str(),
                sig == SIGKILL ? "SIGKILL" : "SIGTERM", s.elapsed_ms,
                s.exit_code >= 0 ? fmt::format("exit code {}", s.exit_code).c_str() : "killed");
    std::fflush(stdout);
  }

  // The control port the page's cluster panel calls: POST /local/{restart,kill}?node=N and
  // POST /local/roll. Loopback only; its address reaches the nodes (and so the page) through
  // MINOTAUR_LOCAL_CONTROL.
  void open_control() {
    control_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(control_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(o_.first_http_port - 1));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(control_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(control_fd_, 8) != 0) {
      std::fprintf(stderr,
                   "local: port %d is taken, so the page will have no restart buttons (the "
                   "commands here still work); free it or choose another --http-port\n",
                   o_.first_http_port - 1);
      close(control_fd_);
      control_fd_ = -1;
      return;
    }
    const std::string url = fmt::format("http://127.0.0.1:{}", o_.first_http_port - 1);
    setenv("MINOTAUR_LOCAL_CONTROL", url.c_str(), 1);
  }

  void serve_control() {
    const int fd = accept(control_fd_, nullptr, nullptr);
    if (fd < 0) return;
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[2048];
    const ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
    std::string line = r > 0 ? std::string(buf, static_cast<std::size_t>(r)) : std::string();
    line = line.substr(0, line.find('\r'));
    // "POST /local/restart?node=2 HTTP/1.1"
    std::string cmd;
    int status = 404;
    if (line.rfind("POST /local/", 0) == 0) {
      std::string rest = line.substr(12, line.find(' ', 12) - 12);
      std::string what = rest.substr(0, rest.find('?'));
      const auto eq = rest.find("node=");
      const std::string node = eq == std::string::npos ? "" : rest.substr(eq + 5);
      if (what == "roll") cmd = "roll";
      if ((what == "restart" || what == "kill") && !node.empty()) cmd = what + " " + node;
    }
    if (!cmd.empty()) {
      status = 200;
      std::printf("local: from the page: %s\n", cmd.c_str());
      command(cmd);
    }
    const std::string body = status == 200 ? "{\"ok\":true}" : "{\"ok\":false}";
    const std::string reply = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: "
        "*\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        status, status == 200 ? "OK" : "Not Found", body.size(), body);
    (void)send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    close(fd);
  }

  bool restart(NodeProc& n, int sig) {
    stop(n, sig);
    return start(n) && wait_ready(n);
  }

  // Every node at once, as a whole cluster stops: each writes its games to its data dir and
  // exits without waiting for the others.
  int stop_all(int code) {
    const auto signalled = std::chrono::steady_clock::now();
    int running = 0;
    for (NodeProc& n : nodes_) {
      if (n.pid > 0 && kill(n.pid, SIGTERM) == 0) ++running;
    }
    if (running > 0) {
      std::printf("local: stopping %d node(s) at once (SIGTERM); each writes its games to %s\n",
                  running, data_dir_.c_str());
      std::fflush(stdout);
    }
    for (NodeProc& n : nodes_) {
      if (n.pid > 0) {
        report_stop(n, SIGTERM, tooling::await_stop(n.pid, signalled, std::chrono::seconds(30)));
      }
    }
    if (running > 0) {
      std::printf("local: stopped; `scripts/run.sh` (or minotaur local) brings the games back\n");
    }
    return code;
  }

  NodeProc* node_arg(std::istringstream& in) {
    int i = 0;
    if (!(in >> i) || i < 1 || i > static_cast<int>(nodes_.size())) {
      std::printf("local: give a node number from 1 to %zu\n", nodes_.size());
      return nullptr;
    }
    return &nodes_[static_cast<std::size_t>(i - 1)];
  }

  void command(const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd.empty()) return;
    if (cmd == "restart" || cmd == "kill") {
      if (NodeProc* n = node_arg(in)) restart(*n, cmd == "kill" ? SIGKILL : SIGTERM);
    } else if (cmd == "roll") {
      std::printf("local: rolling restart of %zu nodes\n", nodes_.size());
      for (NodeProc& n : nodes_) {
        if (!restart(n, SIGTERM)) break;
      }
      std::printf("local: rolling restart done\n");
    } else if (cmd == "status") {
      for (const NodeProc& n : nodes_) {
        std::printf(
            "  %s pid %d http 127.0.0.1:%d %s\n", n.name.c_str(), n.pid, n.http_port,
            tooling::http_get_status(static_cast<std::uint16_t>(n.http_port), "/readyz") == 200
                ? "ready"
                : "NOT READY");
      }
    } else if (cmd == "quit" || cmd == "exit") {
      quit_ = true;
    } else {
      std::printf("local: unknown command '%s'; try restart N, kill N, roll, status, quit\n",
                  cmd.c_str());
    }
    std::fflush(stdout);
  }

  int loop() {
    bool stdin_open = true;
    std::string pending;
    while (!quit_) {
      pollfd fds[3] = {
          {signal_pipe[0], POLLIN, 0}, {control_fd_, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
      const int n = poll(fds, 3, 1000);
      if (n > 0 && control_fd_ >= 0 && (fds[1].revents & POLLIN)) serve_control();
      if (n > 0 && (fds[0].revents & POLLIN)) {
        std::printf("\nlocal: stopping every node\n");
        break;
      }
      if (n > 0 && stdin_open && (fds[2].revents & (POLLIN | POLLHUP))) {
        char buf[256];
        const ssize_t r = read(0, buf, sizeof buf);
        if (r <= 0) {
          stdin_open = false;  // no terminal (e.g. run in the background): signals only
        } else {
          pending.append(buf, static_cast<std::size_t>(r));
          for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
            command(pending.substr(0, nl));
            pending.erase(0, nl + 1);
          }
        }
      }
      for (NodeProc& node : nodes_) {
        if (node.pid > 0 && tooling::exited(node.pid)) {
          std::printf("local: %s exited unexpectedly; see %s; type 'restart %d' to start it\n",
                      node.name.c_str(), node.log.c_str(), node.index);
          std::fflush(stdout);
          node.pid = -1;
        }
      }
    }
    return stop_all(0);
  }

  // Where the cluster's files live when --dir is not given: a stable place, so that the next
  // start finds the games ($XDG_STATE_HOME/minotaur/local, or ~/.local/state/minotaur/local).
  static std::string default_dir() {
    if (const char* state = std::getenv("XDG_STATE_HOME"); state != nullptr && *state != 0) {
      return std::string(state) + "/minotaur/local";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != 0) {
      return std::string(home) + "/.local/state/minotaur/local";
    }
    return (std::filesystem::temp_directory_path() / "minotaur-local").string();
  }

  LocalOptions o_;
  std::string exe_;
  std::string data_dir_;
  tooling::ClusterSecrets secrets_;
  std::vector<NodeProc> nodes_;
  int control_fd_ = -1;
  bool quit_ = false;
};

}  // namespace

int run_local(const LocalOptions& options, const char* argv0) {
  (void)argv0;
  if (pipe(signal_pipe) != 0) return 1;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe");
  return Local(options, exe).run();
}

}  // namespace minotaur::app
