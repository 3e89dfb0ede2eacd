#include "app/local.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "app/local_control.h"
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
  std::optional<int> exit_code;  // of its last process, once it ended (as tooling::exited gives)
  std::string log;
};

// "exit code 1", or "killed by signal 9" for a process a signal ended.
std::string exit_text(int code) {
  return code >= 0 ? fmt::format("exit code {}", code) : fmt::format("killed by signal {}", -code);
}

// A new identity for this run of local, which its nodes show in GET /api/v1/cluster
// (tooling::NodeIdentity): 128 random bits in hex.
std::string new_run_id() {
  std::random_device random;
  std::string out;
  for (int i = 0; i < 4; ++i) out += fmt::format("{:08x}", random());
  return out;
}

// Whether a listening socket could be bound on 127.0.0.1:port now, as a node binds it.
bool port_free(int port) {
  const int fd = tooling::listen_on_loopback(port);
  if (fd >= 0) close(fd);
  return fd >= 0;
}

class Local {
 public:
  Local(const LocalOptions& o, std::string exe) : o_(o), exe_(std::move(exe)) {}

  int run() {
    namespace fs = std::filesystem;
    // Every port is checked, and the control port taken, before anything else happens: a
    // second local while the first runs must say so at once, not start nodes that cannot
    // listen (or, worse, take the first one's nodes for its own).
    for (int i = 1; i <= o_.nodes; ++i) {
      NodeProc n;
      n.index = i;
      n.name = fmt::format("node{}", i);
      n.http_port = o_.first_http_port + i - 1;
      n.cluster_port = o_.first_cluster_port + i - 1;
      nodes_.push_back(n);
    }
    if (!check_ports() || !open_control()) return 1;
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

    for (NodeProc& n : nodes_) n.log = fmt::format("{}/{}.log", dir, n.name);
    run_id_ = new_run_id();
    setenv(tooling::kLocalRunEnv, run_id_.c_str(), 1);
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
        "\nMinotaur is running: open http://127.0.0.1:%d/#local-token=%s\n"
        "(the link carries the admin token, which the page's restart buttons need; the page "
        "keeps it)\n"
        "Commands: restart N (graceful SIGTERM and start again), kill N (SIGKILL and start "
        "again), roll (restart every node in turn), status, quit. Ctrl-C stops everything.\n\n",
        o_.first_http_port, secrets_.admin_token.c_str());
    std::fflush(stdout);
    serving_ = true;
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

  // Ready means: /readyz answers 200 on its port, and the node there is this run's (its name
  // and this run's identity in GET /api/v1/cluster), not whatever else answers on the port.
  bool wait_ready(NodeProc& n) {
    const tooling::NodeIdentity identity{n.name, run_id_};
    const tooling::Readiness r = tooling::wait_ready(n.pid, static_cast<std::uint16_t>(n.http_port),
                                                     std::chrono::seconds(20), &identity);
    const std::string impostor =
        r.impostor.empty()
            ? std::string()
            : fmt::format(" (127.0.0.1:{} answers, but as {})", n.http_port, r.impostor);
    switch (r.state) {
      case tooling::Readiness::State::kReady:
        std::printf("local: %s ready\n", n.name.c_str());
        std::fflush(stdout);
        return true;
      case tooling::Readiness::State::kExited:
        n.pid = -1;
        n.exit_code = r.exit_code;
        std::fprintf(stderr, "local: %s exited while starting (%s)%s\n", n.name.c_str(),
                     exit_text(r.exit_code).c_str(), impostor.c_str());
        print_log_tail(n);
        return false;
      case tooling::Readiness::State::kTimedOut:
        break;
    }
    std::fprintf(stderr, "local: %s not ready after 20 s%s; see %s\n", n.name.c_str(),
                 impostor.c_str(), n.log.c_str());
    return false;
  }

  // Why a node exited, as its log says (the error is on its last lines).
  void print_log_tail(const NodeProc& n) const {
    const std::string next = serving_ ? fmt::format("fix it, then type 'restart {}'", n.index)
                                      : std::string("fix it and start minotaur local again");
    std::fprintf(stderr, "local: the last lines of %s (the reason is on them; %s):\n",
                 n.log.c_str(), next.c_str());
    for (const std::string& line : tooling::log_tail(n.log, 5)) {
      std::fprintf(stderr, "    %s\n", line.c_str());
    }
    std::fflush(stderr);
  }

  // Sends `sig` and waits for the exit; SIGKILL after 30 s.
  void stop(NodeProc& n, int sig) {
    if (n.pid <= 0) return;
    report_stop(n, sig, tooling::stop_process(n.pid, sig, std::chrono::seconds(30)));
  }

  void report_stop(NodeProc& n, int sig, const Result<tooling::Stopped, std::string>& stopped) {
    n.pid = -1;
    if (stopped) n.exit_code = stopped.value().exit_code;
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

  // Every port local and its nodes take — the control port (--http-port minus 1), the HTTP
  // ports and the cluster ports — in range, distinct, and free now. Otherwise says which port
  // and which flag moves it, and returns false.
  bool check_ports() {
    struct Port {
      int port;
      std::string what;
      std::string flag;
    };
    std::vector<Port> ports{{o_.first_http_port - 1,
                             "the control port (the page's restart "
                             "buttons; --http-port minus 1)",
                             "--http-port"}};
    for (const NodeProc& n : nodes_) {
      ports.push_back({n.http_port, n.name + "'s HTTP port", "--http-port"});
      ports.push_back({n.cluster_port, n.name + "'s cluster port", "--cluster-port"});
    }
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const Port& p = ports[i];
      if (p.port < 1 || p.port > 65535) {
        std::fprintf(stderr,
                     "local: %s would be %d, outside 1-65535; choose another %s (node i uses it "
                     "+ i - 1)\n",
                     p.what.c_str(), p.port, p.flag.c_str());
        return false;
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (ports[j].port == p.port) {
          std::fprintf(stderr,
                       "local: port %d would be both %s and %s; choose --http-port and "
                       "--cluster-port at least %d apart\n",
                       p.port, ports[j].what.c_str(), p.what.c_str(), o_.nodes + 1);
          return false;
        }
      }
    }
    for (const Port& p : ports) {
      if (!port_free(p.port)) {
        std::fprintf(stderr,
                     "local: port %d (%s) is in use on 127.0.0.1: another minotaur local, or "
                     "another program, listens there. Stop it, or choose other ports with %s "
                     "(node i uses it + i - 1)\n",
                     p.port, p.what.c_str(), p.flag.c_str());
        return false;
      }
    }
    return true;
  }

  // The control port the page's cluster panel calls: POST /local/{restart,kill}?node=N and
  // POST /local/roll, with the admin token, from the page's own origins only
  // (app/local_control.h). Loopback only; close-on-exec, so that no node holds it; its address
  // reaches the nodes (and so the page) through MINOTAUR_LOCAL_CONTROL.
  bool open_control() {
    const int port = o_.first_http_port - 1;
    control_fd_ = tooling::listen_on_loopback(port);
    if (control_fd_ < 0) {
      std::fprintf(stderr,
                   "local: cannot listen on 127.0.0.1:%d, the control port (--http-port minus "
                   "1): %s; stop what holds it, or choose another --http-port\n",
                   port, std::strerror(errno));
      return false;
    }
    const std::string url = fmt::format("http://127.0.0.1:{}", port);
    setenv("MINOTAUR_LOCAL_CONTROL", url.c_str(), 1);
    return true;
  }

  void serve_control() {
    const int fd = accept4(control_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    // The request's head, up to the blank line; the calls have no body.
    std::string head;
    char buf[2048];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() <= kControlMaxHeadBytes) {
      const ssize_t r = recv(fd, buf, sizeof buf, 0);
      if (r <= 0) break;
      head.append(buf, static_cast<std::size_t>(r));
    }
    std::vector<int> http_ports;
    for (const NodeProc& n : nodes_) http_ports.push_back(n.http_port);
    const ControlPolicy policy{page_origins(http_ports), secrets_.admin_token,
                               static_cast<int>(nodes_.size())};
    const ControlReply reply = decide_control(head, policy);
    if (!reply.command.empty()) {
      std::printf("local: from the page: %s\n", reply.command.c_str());
      command(reply.command);
    } else if (reply.status >= 400) {
      std::printf("local: refused a call on the control port (HTTP %d): %s\n", reply.status,
                  reply.error.c_str());
      std::fflush(stdout);
    }
    const std::string out = render_control_reply(reply);
    (void)send(fd, out.data(), out.size(), MSG_NOSIGNAL);
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

  // One line of `status`: a running node's pid and readiness, or how a stopped one ended.
  void status(const NodeProc& n) {
    if (n.pid <= 0) {
      std::printf("  %s stopped (%s); type 'restart %d' to start it; its log: %s\n", n.name.c_str(),
                  n.exit_code ? exit_text(*n.exit_code).c_str() : "it did not start", n.index,
                  n.log.c_str());
      return;
    }
    // The node's own word: "ready", or "not ready: REASON" (no_quorum, draining, ...).
    const tooling::HttpAnswer readyz =
        tooling::http_get(static_cast<std::uint16_t>(n.http_port), "/readyz");
    std::string word = readyz.status == 0 ? "not answering on its HTTP port" : readyz.body;
    while (!word.empty() && (word.back() == '\n' || word.back() == '\r')) word.pop_back();
    if (word.size() > 80 || word.find_first_of("\r\n") != std::string::npos) {
      word = "HTTP " + std::to_string(readyz.status) + " from /readyz";
    }
    std::printf("  %s running, pid %d, http 127.0.0.1:%d, %s\n", n.name.c_str(), n.pid, n.http_port,
                word.c_str());
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
      for (const NodeProc& n : nodes_) status(n);
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
        if (node.pid <= 0) continue;
        if (const auto code = tooling::exited(node.pid)) {
          node.pid = -1;
          node.exit_code = *code;
          if (*code == 0) {
            // Drained on its own word (`minotaur ctl drain`, or a signal from elsewhere).
            std::printf(
                "local: %s stopped after handing its games off (exit code 0); type "
                "'restart %d' to start it again\n",
                node.name.c_str(), node.index);
            std::fflush(stdout);
            continue;
          }
          std::printf("local: %s exited unexpectedly (%s); type 'restart %d' to start it\n",
                      node.name.c_str(), exit_text(*code).c_str(), node.index);
          std::fflush(stdout);
          print_log_tail(node);
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
  std::string run_id_;  // this run's identity, which its nodes show (tooling::NodeIdentity)
  int control_fd_ = -1;
  bool serving_ = false;  // every node was ready once: the terminal takes commands
  bool quit_ = false;
};

}  // namespace

int run_local(const LocalOptions& options, const char* argv0) {
  (void)argv0;
  if (pipe2(signal_pipe, O_CLOEXEC) != 0) return 1;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe");
  return Local(options, exe).run();
}

}  // namespace minotaur::app
