#include "testing/cluster_harness.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tooling/process.h"

namespace minotaur::testing {

std::string game_json(const std::string& id, const std::vector<PlayerSpec>& players,
                      std::int64_t round_ends_at_ms) {
  boost::json::array list;
  for (const PlayerSpec& p : players) {
    list.push_back(boost::json::object{{"id", p.id},
                                       {"user_id", p.user_id},
                                       {"display_name", p.display_name},
                                       {"coord", boost::json::object{{"q", p.q}, {"r", p.r}}}});
  }
  boost::json::object g{{"id", id}, {"players", std::move(list)}};
  if (round_ends_at_ms != 0) g["round_ends_at_ms"] = round_ends_at_ms;
  return boost::json::serialize(g);
}

ClusterHarness::ClusterHarness() {
  std::random_device rd;
  dir_ = (std::filesystem::temp_directory_path() /
          ("minotaur-test-" + std::to_string(getpid()) + "-" + std::to_string(rd())))
             .string();
  std::filesystem::create_directories(dir_);
  auto secrets = tooling::write_cluster_secrets(dir_, kAdminToken);
  if (secrets) {
    secrets_ = std::move(secrets.value());
  } else {
    ADD_FAILURE() << secrets.error();
  }
}

ClusterHarness::~ClusterHarness() {
  for (Node& n : nodes_) {
    if (n.pid > 0) (void)tooling::stop_process(n.pid, SIGKILL, std::chrono::milliseconds(0));
    n.pid = -1;
  }
  if (::testing::Test::HasFailure()) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      std::string text = log(i);
      if (text.size() > 6000) text = "...\n" + text.substr(text.size() - 6000);
      std::fprintf(stderr, "---- log of %s (%s) ----\n%s\n", nodes_[i].spec.name.c_str(),
                   nodes_[i].log_path.c_str(), text.c_str());
    }
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void ClusterHarness::spawn(Node& n) {
  // Tests drive nodes from one address, faster than any player: no client budgets, unless a
  // test turns them on (its own --client-limits comes later and wins).
  std::vector<std::string> extra{"--client-limits", "off"};
  extra.insert(extra.end(), n.spec.extra_args.begin(), n.spec.extra_args.end());
  tooling::NodeCommand command{n.spec.binary.empty() ? this_build() : n.spec.binary,
                               n.spec.name,
                               n.cluster_port,
                               n.http_port,
                               n.round_time_ms,
                               n.cookie_file,
                               n.token_keys_file,
                               secrets_.admin_token_file,
                               {},
                               extra};
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& other = nodes_[i];
    if (&other == &n) continue;
    if (n.spec.seed_nodes) {
      const auto& chosen = *n.spec.seed_nodes;
      if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) continue;
    }  // by default: every other node started so far
    command.seed_ports.push_back(other.cluster_port);
  }
  const std::vector<std::string> args = tooling::node_command(command);
  auto pid = tooling::spawn_logged(args, n.log_path);
  ASSERT_TRUE(pid.ok()) << pid.error();
  n.pid = pid.value();
}

std::size_t ClusterHarness::start(NodeSpec spec, std::int64_t round_time_ms) {
  Node n;
  n.spec = std::move(spec);
  n.round_time_ms = round_time_ms;
  n.http_port = free_port();
  n.cluster_port = free_port();
  n.log_path = dir_ + "/" + n.spec.name + ".log";
  n.index = nodes_.size();
  n.cookie_file = secrets_.cookie_file;
  if (!n.spec.cookie.empty()) {
    n.cookie_file = dir_ + "/" + n.spec.name + ".cookie";
    std::ofstream(n.cookie_file) << n.spec.cookie << "\n";
  }
  n.token_keys_file = n.spec.no_token_keys ? "" : secrets_.token_keys_file;
  if (n.spec.token_keys_text) {
    n.token_keys_file = dir_ + "/" + n.spec.name + ".token-keys";
    std::ofstream(n.token_keys_file) << *n.spec.token_keys_text;
  }
  nodes_.push_back(n);
  const std::size_t index = nodes_.size() - 1;
  spawn(nodes_[index]);
  if (nodes_[index].spec.wait_ready) {
    EXPECT_TRUE(wait_ready(index)) << nodes_[index].spec.name << " did not become ready";
  }
  return index;
}

bool ClusterHarness::wait_ready(std::size_t i) {
  Node& n = nodes_.at(i);
  const tooling::Readiness r = tooling::wait_ready(n.pid, n.http_port, std::chrono::seconds(20));
  if (r.state == tooling::Readiness::State::kExited) {
    n.exit_code = r.exit_code;  // the caller's checks fail; exited() and exit_code() say how
    n.pid = -1;
  }
  return r.state == tooling::Readiness::State::kReady;
}

void ClusterHarness::stop(std::size_t i, int sig) {
  Node& n = nodes_.at(i);
  ASSERT_GT(n.pid, 0) << n.spec.name << " is not running";
  auto stopped = tooling::stop_process(n.pid, sig, std::chrono::seconds(30));
  n.pid = -1;
  ASSERT_TRUE(stopped.ok()) << n.spec.name << ": " << stopped.error();
  EXPECT_FALSE(stopped.value().killed_after_timeout)
      << n.spec.name << " did not exit within 30 s of signal " << sig << "; killed it";
  n.exit_code = stopped.value().exit_code;
}

void ClusterHarness::stop_all(int sig) {
  const auto signalled = std::chrono::steady_clock::now();
  for (const Node& n : nodes_) {
    if (n.pid > 0) kill(n.pid, sig);
  }
  for (Node& n : nodes_) {
    if (n.pid <= 0) continue;
    auto stopped = tooling::await_stop(n.pid, signalled, std::chrono::seconds(30));
    n.pid = -1;
    ASSERT_TRUE(stopped.ok()) << n.spec.name << ": " << stopped.error();
    EXPECT_FALSE(stopped.value().killed_after_timeout)
        << n.spec.name << " did not exit within 30 s of signal " << sig << "; killed it";
    n.exit_code = stopped.value().exit_code;
  }
}

void ClusterHarness::restart(std::size_t i) {
  Node& n = nodes_.at(i);
  if (n.pid > 0) stop(i, SIGTERM);
  spawn(n);
  EXPECT_TRUE(wait_ready(i)) << n.spec.name << " did not become ready after a restart";
}

void ClusterHarness::set_build(std::size_t i, std::string executable) {
  nodes_.at(i).spec.binary = std::move(executable);
}

const char* ClusterHarness::this_build() {
  return MINOTAUR_BINARY;
}

void ClusterHarness::restart(const std::vector<std::size_t>& nodes) {
  for (std::size_t i : nodes) {
    if (nodes_.at(i).pid > 0) stop(i, SIGTERM);
    spawn(nodes_.at(i));
  }
  for (std::size_t i : nodes) {
    EXPECT_TRUE(wait_ready(i)) << nodes_.at(i).spec.name << " did not become ready after a restart";
  }
}

void ClusterHarness::pause(std::size_t i) {
  ASSERT_GT(nodes_.at(i).pid, 0) << nodes_.at(i).spec.name << " is not running";
  kill(nodes_.at(i).pid, SIGSTOP);
}

void ClusterHarness::resume(std::size_t i) {
  ASSERT_GT(nodes_.at(i).pid, 0) << nodes_.at(i).spec.name << " is not running";
  kill(nodes_.at(i).pid, SIGCONT);
}

bool ClusterHarness::exited(std::size_t i) {
  Node& n = nodes_.at(i);
  if (n.pid <= 0) return true;
  const std::optional<int> code = tooling::exited(n.pid);
  if (!code) return false;
  n.exit_code = *code;
  n.pid = -1;
  return true;
}

int ClusterHarness::exit_code(std::size_t i) const {
  return nodes_.at(i).exit_code;
}
bool ClusterHarness::running(std::size_t i) const {
  return nodes_.at(i).pid > 0;
}
std::uint16_t ClusterHarness::http_port(std::size_t i) const {
  return nodes_.at(i).http_port;
}
std::uint16_t ClusterHarness::cluster_port(std::size_t i) const {
  return nodes_.at(i).cluster_port;
}
const std::string& ClusterHarness::name(std::size_t i) const {
  return nodes_.at(i).spec.name;
}

pid_t ClusterHarness::pid(std::size_t i) const {
  return nodes_.at(i).pid;
}

std::string ClusterHarness::log(std::size_t i) const {
  std::ifstream in(nodes_.at(i).log_path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::pair<std::string, std::string>> ClusterHarness::members_seen_by(
    std::size_t i) const {
  std::vector<std::pair<std::string, std::string>> out;
  const auto j = request(i, "GET", "/api/v1/cluster").json();
  if (!j.is_object()) return out;
  for (const auto& m : j.at("members").as_array()) {
    out.emplace_back(std::string(m.at("name").as_string()),
                     std::string(m.at("status").as_string()));
  }
  return out;
}

std::string ClusterHarness::status_seen_by(std::size_t i, const std::string& member) const {
  for (const auto& [name, status] : members_seen_by(i)) {
    if (name == member) return status;
  }
  return "";
}

std::uint64_t ClusterHarness::incarnation_seen_by(std::size_t i, const std::string& member) const {
  const auto j = request(i, "GET", "/api/v1/cluster").json();
  if (!j.is_object()) return 0;
  for (const auto& m : j.at("members").as_array()) {
    if (m.at("name").as_string() == member) return m.at("incarnation").to_number<std::uint64_t>();
  }
  return 0;
}

HttpReply ClusterHarness::request(std::size_t i, const std::string& method, const std::string& path,
                                  const std::string& body, const std::string& token) const {
  return tooling::HttpClient(http_port(i)).request(method, path, body, token);
}

std::pair<std::string, std::string> ClusterHarness::new_user(std::size_t i,
                                                             const std::string& user_name) const {
  const HttpReply r =
      request(i, "POST", "/api/v1/users",
              boost::json::serialize(boost::json::object{{"display_name", user_name}}));
  EXPECT_EQ(r.status, 201) << r.body;
  const auto j = r.json();
  if (!j.is_object()) return {};
  return {std::string(j.at("user_id").as_string()), std::string(j.at("token").as_string())};
}

std::pair<int, std::string> ClusterHarness::run_minotaur(const std::vector<std::string>& args,
                                                         const std::string& executable) {
  const std::string out_path = dir_ + "/run-" + std::to_string(++runs_) + ".log";
  std::vector<std::string> argv{executable.empty() ? this_build() : executable};
  argv.insert(argv.end(), args.begin(), args.end());
  auto pid = tooling::spawn_logged(argv, out_path);
  if (!pid) return {-1, pid.error()};
  std::optional<int> code = tooling::wait_exit(pid.value(), std::chrono::seconds(30));
  if (!code) (void)tooling::stop_process(pid.value(), SIGKILL, std::chrono::milliseconds(0));
  std::ifstream in(out_path);
  std::stringstream s;
  s << in.rdbuf();
  return {code && *code >= 0 ? *code : -1, s.str()};
}

bool ClusterHarness::eventually(const std::function<bool()>& check,
                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (check()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace minotaur::testing
