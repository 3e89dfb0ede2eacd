// The real `minotaur local` and its node processes, as a user runs it in a terminal: it checks
// its ports before it starts anything, takes only its own nodes for ready, says why a node
// exited, keeps its control port to the page (origin and admin token) and out of the nodes,
// and tells the state of a stopped node. Each test runs local on ports of its own (a run of
// free ports below the kernel's ephemeral range) in a folder of its own.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/raw_client.h"
#include "tooling/local_node.h"
#include "tooling/process.h"

extern char** environ;

namespace minotaur::app {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Ports for `minotaur local --nodes N`: the control port, N HTTP ports, N cluster ports, in a
// row and all free now, from a random base between 20000 and 32000.
struct LocalPorts {
  int control = 0;
  int http = 0;     // --http-port
  int cluster = 0;  // --cluster-port
};
LocalPorts free_local_ports(int nodes) {
  std::mt19937 random(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int base = 20'000 + static_cast<int>(random() % 12'000);
    bool free = true;
    for (int p = base; p < base + 2 * nodes + 1 && free; ++p) {
      const int fd = tooling::listen_on_loopback(p);
      free = fd >= 0;
      if (fd >= 0) close(fd);
    }
    if (free) return {base, base + 1, base + 1 + nodes};
  }
  ADD_FAILURE() << "no run of free ports between 20000 and 32000";
  return {};
}

// `minotaur ARGS` in a process group of its own (local's nodes join it), its standard input a
// pipe the test writes commands to, its output in a file. The destructor stops whatever is
// left: SIGTERM to local (it stops its nodes), then SIGKILL to the whole group.
class Minotaur {
 public:
  explicit Minotaur(const std::vector<std::string>& args) {
    out_path_ = (fs::temp_directory_path() / ("minotaur-local-test-" + std::to_string(getpid()) +
                                              "-" + std::to_string(counter_++) + ".out"))
                    .string();
    int in[2];
    EXPECT_EQ(pipe2(in, O_CLOEXEC), 0);
    const char* binary = std::getenv("MINOTAUR_BINARY");  // another build's, to compare
    std::vector<std::string> copy{binary != nullptr && *binary != 0 ? binary : MINOTAUR_BINARY};
    copy.insert(copy.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(in[0]);
    stdin_ = in[1];
  }
  ~Minotaur() {
    if (!exit_code_ && pid_ > 0) {
      kill(pid_, SIGTERM);
      exit_code_ = tooling::wait_exit(pid_, 40s);
    }
    // Any node left in the group; none when local exited 0 (it saw every node exit, and the
    // group is gone).
    if (pid_ > 0 && exit_code_ != 0) kill(-pid_, SIGKILL);
    if (pid_ > 0 && !exit_code_) waitpid(pid_, nullptr, 0);
    close(stdin_);
    if (::testing::Test::HasFailure()) {
      std::printf("---- output of minotaur ----\n%s\n", output().c_str());
    }
    fs::remove(out_path_);
  }
  Minotaur(const Minotaur&) = delete;
  Minotaur& operator=(const Minotaur&) = delete;

  std::string output() const { return read_all(out_path_); }
  // Waits until the output matches `pattern` (an ECMAScript regex) or local exits or `timeout`
  // passes.
  bool wait_for(const std::string& pattern, std::chrono::milliseconds timeout = 30s) {
    const std::regex re(pattern);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::regex_search(output(), re)) return true;
      if (exited()) return std::regex_search(output(), re);
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  void send(const std::string& line) {
    const std::string l = line + "\n";
    EXPECT_EQ(write(stdin_, l.data(), l.size()), static_cast<ssize_t>(l.size()));
  }
  bool exited() {
    if (!exit_code_) exit_code_ = tooling::exited(pid_);
    return exit_code_.has_value();
  }
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    if (!exit_code_) exit_code_ = tooling::wait_exit(pid_, timeout);
    return exit_code_;
  }
  // The pid local printed for a node's last start ("node2 started (pid 123").
  pid_t node_pid(const std::string& name) const {
    const std::string text = output();
    const std::regex re(name + " started \\(pid (\\d+)");
    pid_t pid = -1;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
         ++it) {
      pid = std::stoi((*it)[1]);
    }
    return pid;
  }

 private:
  static inline int counter_ = 0;
  std::string out_path_;
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::optional<int> exit_code_;
};

// A folder of its own for local, removed with it.
struct Folder {
  Folder() {
    std::string t = (fs::temp_directory_path() / "minotaur-local-test-XXXXXX").string();
    path = mkdtemp(t.data());
  }
  ~Folder() { fs::remove_all(path); }
  std::string path;
};

std::vector<std::string> local_args(const Folder& dir, const LocalPorts& ports, int nodes) {
  return {"local",
          "--dir",
          dir.path,
          "--nodes",
          std::to_string(nodes),
          "--http-port",
          std::to_string(ports.http),
          "--cluster-port",
          std::to_string(ports.cluster)};
}

constexpr const char* kRunning = "Minotaur is running";

TEST(Local, ASecondLocalOnTheSamePortsFailsAtOnceNamingThePortAndTheFlag) {
  Folder dir1, dir2;
  const LocalPorts ports = free_local_ports(2);
  Minotaur first(local_args(dir1, ports, 2));
  ASSERT_TRUE(first.wait_for(kRunning));

  Minotaur second(local_args(dir2, ports, 2));
  const auto code = second.wait_exit(10s);
  ASSERT_TRUE(code.has_value()) << "a second local on busy ports must exit at once, not run";
  EXPECT_EQ(*code, 1);
  const std::string out = second.output();
  EXPECT_NE(out.find("port " + std::to_string(ports.control) + " (the control port"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("--http-port"), std::string::npos) << out;
  EXPECT_EQ(out.find("started (pid"), std::string::npos) << "it started nodes:\n" << out;
  EXPECT_EQ(out.find("ready"), std::string::npos) << out;

  // The first one is untouched. Status is asked again until node2 says ready: its readiness
  // word is the node's own now, and may name a passing hold (catching_up, no_quorum) on a
  // loaded machine while the two nodes settle.
  bool ready = false;
  for (int i = 0; i < 20 && !ready; ++i) {
    first.send("status");
    ready = first.wait_for("node2 running, pid \\d+, http 127.0.0.1:\\d+, ready", 1s);
  }
  EXPECT_TRUE(ready) << first.output();
}

TEST(Local, ABusyClusterPortIsNamedWithItsFlagBeforeAnyNodeStarts) {
  Folder dir;
  const LocalPorts ports = free_local_ports(1);
  const int holder = tooling::listen_on_loopback(ports.cluster);
  ASSERT_GE(holder, 0);
  Minotaur local(local_args(dir, ports, 1));
  const auto code = local.wait_exit(10s);
  close(holder);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  const std::string out = local.output();
  EXPECT_NE(out.find("port " + std::to_string(ports.cluster) + " (node1's cluster port) is in use"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("--cluster-port"), std::string::npos) << out;
  EXPECT_EQ(out.find("started (pid"), std::string::npos) << out;
}

TEST(Local, ANodeThatExitsWhileStartingIsExplainedFromItsLog) {
  Folder dir;
  const LocalPorts ports = free_local_ports(1);
  fs::create_directories(dir.path + "/data");
  std::ofstream(dir.path + "/data/node1") << "not a directory\n";  // the node refuses it
  Minotaur local(local_args(dir, ports, 1));
  const auto code = local.wait_exit(30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 1);
  const std::string out = local.output();
  EXPECT_NE(out.find("node1 exited while starting (exit code 2)"), std::string::npos) << out;
  EXPECT_NE(out.find("is not a directory; give a directory as --data-dir"), std::string::npos)
      << "local must say why, from the node's log:\n"
      << out;
}

// Answers every HTTP request 200 with `body`, one request a connection, until destroyed: a
// process of somebody else's on a port local expects its node on.
class Impostor {
 public:
  Impostor(int port, std::string body)
      : fd_(tooling::listen_on_loopback(port)), body_(std::move(body)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        char buf[4096];
        (void)!recv(c, buf, sizeof buf, 0);
        const std::string reply =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
            std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
        (void)!::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
        close(c);
      }
    });
  }
  ~Impostor() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
  std::string body_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(Local, ARestartedNodeIsReadyOnlyWhenItIsItsOwnAndAStoppedOneSaysHowItEnded) {
  Folder dir;
  const LocalPorts ports = free_local_ports(2);
  Minotaur local(local_args(dir, ports, 2));
  ASSERT_TRUE(local.wait_for(kRunning));
  const pid_t node2 = local.node_pid("node2");
  ASSERT_GT(node2, 0);
  ASSERT_EQ(kill(node2, SIGKILL), 0);
  ASSERT_TRUE(local.wait_for("node2 exited unexpectedly \\(killed by signal 9\\)"));
  local.send("status");
  ASSERT_TRUE(local.wait_for("node2 stopped \\(killed by signal 9\\)"));
  EXPECT_EQ(local.output().find("pid -1"), std::string::npos) << local.output();

  // Something else answers on node2's HTTP port now, and says it is node2: a restarted node2
  // cannot listen there and exits, and local must say so, not call it ready.
  const int http2 = ports.http + 1;
  Impostor impostor(http2, R"({"node":"node2","members":[]})");
  ASSERT_TRUE(impostor.ok());
  local.send("restart 2");
  ASSERT_TRUE(local.wait_for("node2 exited while starting \\(exit code 1\\)")) << local.output();
  const std::string out = local.output();
  const std::string after = out.substr(out.rfind("node2 started (pid"));
  EXPECT_EQ(after.find("node2 ready"), std::string::npos) << "it took the impostor for node2";
  EXPECT_NE(after.find("answers, but as node node2, which this run did not start"),
            std::string::npos)
      << after;
  EXPECT_NE(after.find("cannot listen for HTTP on 127.0.0.1:" + std::to_string(http2) +
                       ": Address already in use"),
            std::string::npos)
      << "the reason, from the node's log:\n"
      << after;
  local.send("status");
  EXPECT_TRUE(local.wait_for("node2 stopped \\(exit code 1\\)"));
  // node1 runs, but alone of two voters it holds changes, and says why.
  EXPECT_TRUE(local.wait_for("node1 running, pid \\d+, http 127.0.0.1:\\d+, not ready: no_quorum"));
}

// The inode of the socket listening on 127.0.0.1:port (/proc/net/tcp); empty when none.
std::string listening_inode(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  char local[32];
  std::snprintf(local, sizeof local, "0100007F:%04X", port);
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string slot, address, remote, state, queues, timer, retransmits, uid, timeout, inode;
    s >> slot >> address >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
        inode;
    if (address == local && state == "0A") return inode;
  }
  return {};
}

bool holds_socket(pid_t pid, const std::string& inode) {
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code link_ec;
    if (fs::read_symlink(fd.path(), link_ec).string() == "socket:[" + inode + "]") return true;
  }
  return false;
}

// One call on the control port, as a browser or a script sends it; the whole answer.
struct ControlAnswer {
  int status = 0;
  std::string raw;
};
ControlAnswer control_call(int port, const std::string& method, const std::string& target,
                           const std::string& headers) {
  testing::RawSocket s("127.0.0.1", static_cast<std::uint16_t>(port));
  s.send_all(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers +
             "Content-Length: 0\r\n\r\n");
  ControlAnswer a;
  a.raw = s.read_until_close(60s);  // a kill answers once the node is back
  a.status = testing::parse_answer(a.raw).status;
  return a;
}

TEST(Local, TheControlPortTakesOnlyThePageWithTheAdminTokenAndNoNodeHoldsIt) {
  Folder dir;
  const LocalPorts ports = free_local_ports(1);
  Minotaur local(local_args(dir, ports, 1));
  ASSERT_TRUE(local.wait_for(kRunning));
  std::string token = read_all(dir.path + "/admin-token");
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  ASSERT_FALSE(token.empty());
  EXPECT_NE(local.output().find("#local-token=" + token), std::string::npos)
      << "the terminal prints the page's link with the token";
  const std::string page = "http://127.0.0.1:" + std::to_string(ports.http);
  const std::string bearer = "Authorization: Bearer " + token + "\r\n";

  // Another web page the user visits: refused, even with the token, and told nothing.
  auto evil = control_call(ports.control, "POST", "/local/kill?node=1",
                           "Origin: http://evil.example\r\n" + bearer);
  EXPECT_EQ(evil.status, 403) << evil.raw;
  EXPECT_EQ(evil.raw.find("Access-Control-Allow-Origin"), std::string::npos) << evil.raw;
  // No token: refused.
  auto anonymous =
      control_call(ports.control, "POST", "/local/kill?node=1", "Origin: " + page + "\r\n");
  EXPECT_EQ(anonymous.status, 401) << anonymous.raw;
  EXPECT_EQ(local.output().find("from the page"), std::string::npos) << local.output();

  // The page: its preflight, then the call.
  auto preflight = control_call(ports.control, "OPTIONS", "/local/kill?node=1",
                                "Origin: " + page + "\r\nAccess-Control-Request-Method: POST\r\n" +
                                    "Access-Control-Request-Headers: authorization\r\n");
  EXPECT_EQ(preflight.status, 204) << preflight.raw;
  EXPECT_NE(preflight.raw.find("Access-Control-Allow-Origin: " + page + "\r\n"), std::string::npos)
      << preflight.raw;
  auto kill_call = control_call(ports.control, "POST", "/local/kill?node=1",
                                "Origin: " + page + "\r\n" + bearer);
  EXPECT_EQ(kill_call.status, 200) << kill_call.raw;
  EXPECT_TRUE(local.wait_for("from the page: kill 1[\\s\\S]*node1 ready")) << local.output();

  // The nodes do not hold local's control socket (it would outlive local in them).
  const std::string inode = listening_inode(ports.control);
  ASSERT_FALSE(inode.empty());
  const pid_t node1 = local.node_pid("node1");
  ASSERT_GT(node1, 0);
  EXPECT_FALSE(holds_socket(node1, inode)) << "node1 inherited the control port's socket";
}

TEST(Local, HelpListsTheTerminalCommandsAndTheControlPort) {
  Minotaur help({"local", "--help"});
  ASSERT_EQ(help.wait_exit(10s), 0);
  const std::string out = help.output();
  for (const char* text :
       {"restart N", "kill N", "roll", "status", "quit", "Control port", "--http-port minus 1"}) {
    EXPECT_NE(out.find(text), std::string::npos) << text << " missing from:\n" << out;
  }
}

TEST(Local, AnUnknownSubcommandIsNamedWithTheList) {
  Minotaur typo({"nod"});
  const auto code = typo.wait_exit(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  const std::string out = typo.output();
  EXPECT_NE(out.find("'nod' is no subcommand; did you mean 'node'?"), std::string::npos) << out;
  EXPECT_NE(out.find("node, ctl, local, token-keys, bench, sim"), std::string::npos) << out;
}

}  // namespace
}  // namespace minotaur::app
