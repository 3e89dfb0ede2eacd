#include "app/ctl_command.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "app/node_command.h"
#include "base/result.h"
#include "tooling/http_client.h"
#include "transport/address.h"

namespace minotaur::app {

namespace json = boost::json;
namespace ssl = boost::asio::ssl;
using tooling::HttpAnswer;
using tooling::HttpClient;

namespace {

// What went wrong, for the operator, with what to do next: printed, then exit 1.
using Failure = std::string;
template <typename T>
using Checked = Result<T, Failure>;

// Prints the failure; the exit code.
int failed(const Failure& why) {
  std::fprintf(stderr, "ctl: %s\n", why.c_str());
  return 1;
}

std::string text(const json::value* v) {
  if (v == nullptr || v->is_null()) return "-";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}
std::string field(const json::object& o, std::string_view key) {
  return text(o.if_contains(key));
}
// A member's or an answer's "sessions" count; `otherwise` when it has none.
std::int64_t sessions_in(const json::object& o, std::int64_t otherwise) {
  const auto* n = o.if_contains("sessions");
  if (n != nullptr && n->is_int64()) return n->as_int64();
  if (n != nullptr && n->is_uint64()) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(n->as_uint64(), INT64_MAX));
  }
  return otherwise;
}

// One member's API, by its HOST:PORT; over HTTPS with `tls`.
class Endpoint {
 public:
  Endpoint(std::string address, std::string token, std::shared_ptr<ssl::context> tls)
      : address_(std::move(address)), token_(std::move(token)), tls_(std::move(tls)) {
    auto hp = transport::parse_host_port(address_);
    if (hp) client_.emplace(hp.value().host, hp.value().port, tls_);
  }
  // Another member's API, spoken to as this one (HTTP or HTTPS).
  Endpoint at(std::string address, std::string token) const {
    return Endpoint(std::move(address), std::move(token), tls_);
  }
  const std::string& address() const { return address_; }
  HttpAnswer call(const std::string& method, const std::string& path,
                  const std::string& body = "") {
    if (!client_) return {};
    return client_->request(method, path, body, token_);
  }
  // The answer's JSON object when the status is `expected`; otherwise a Failure that says why.
  Checked<json::object> expect(const std::string& method, const std::string& path,
                               int expected = 200) {
    return checked(call(method, path), method, path, expected);
  }
  // The answer `a` to METHOD PATH as expect() judges it.
  Checked<json::object> checked(const HttpAnswer& a, const std::string& method,
                                const std::string& path, int expected = 200) const {
    if (a.status == 0) {
      return err(fmt::format(
          "no answer from {} ({} {}): is the node running there? Give another member's API "
          "address with --node or MINOTAUR_NODE{}",
          address_, method, path,
          tls_ ? "; with --tls or --tls-ca, check that the node's certificate verifies"
               : "; a node started with --tls-cert needs --tls or --tls-ca"));
    }
    if (a.status == 401 || a.status == 403) {
      return err(
          fmt::format("{} refused the admin token ({} {}: {}): give the cluster's admin token with "
                      "--admin-token-file or MINOTAUR_ADMIN_TOKEN_FILE (or MINOTAUR_ADMIN_TOKEN)",
                      address_, method, path, a.status));
    }
    const json::value v = a.json();
    if (a.status != expected || !v.is_object()) {
      std::string why = a.body;
      if (const auto* o = v.if_object()) {
        if (const auto* e = o->if_contains("error"); e != nullptr && e->is_object()) {
          why = field(e->as_object(), "message");
        }
      }
      return err(fmt::format("{} answered {} to {} {}: {}", address_, a.status, method, path, why));
    }
    return v.as_object();
  }

 private:
  std::string address_;
  std::string token_;
  std::shared_ptr<ssl::context> tls_;  // null: plain HTTP
  std::optional<HttpClient> client_;
};

// A table: each column as wide as its widest cell, two spaces apart.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void print_json(const json::value& v) {
  std::printf("%s\n", json::serialize(v).c_str());
}

// The member objects of a cluster view (GET /api/v1/cluster); nullopt when it has none.
std::optional<json::array> members_in(const json::object& view) {
  const auto* members = view.if_contains("members");
  if (members == nullptr || !members->is_array()) return std::nullopt;
  json::array out;
  for (const json::value& m : members->as_array()) {
    if (m.is_object()) out.push_back(m);
  }
  return out;
}

Checked<json::array> members_of(Endpoint& node) {
  auto view = node.expect("GET", "/api/v1/cluster");
  if (!view) return err(view.error());
  auto members = members_in(view.value());
  if (!members) {
    return err(node.address() +
               " answered GET /api/v1/cluster without members: is it a "
               "Minotaur node?");
  }
  return std::move(*members);
}

bool serving(const json::object& m) {
  const std::string status = field(m, "status");
  return (status == "up" || status == "leaving") && m.contains("http") && m.at("http").is_string();
}

int members(Endpoint& node, const CtlFlags& c) {
  auto listed = members_of(node);
  if (!listed) return failed(listed.error());
  json::array list = std::move(listed).value();
  // Whether each member accepts changes is its own word: asked of each one that serves.
  for (json::value& v : list) {
    json::object& m = v.as_object();
    m["accepts_changes"] = nullptr;
    m["changes_held"] = nullptr;
    if (!serving(m)) continue;
    Endpoint member = node.at(field(m, "http"), "");
    const HttpAnswer a = member.call("GET", "/api/v1/cluster");
    const json::value own = a.json();
    if (a.status != 200 || !own.is_object()) continue;
    if (const auto* accepts = own.as_object().if_contains("accepts_changes")) {
      m["accepts_changes"] = *accepts;
    }
    if (const auto* held = own.as_object().if_contains("changes_held")) m["changes_held"] = *held;
  }
  if (c.json) {
    print_json(list);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{
      {"NAME", "STATUS", "SESSIONS", "ACCEPTS CHANGES", "VERSION", "HTTP"}};
  for (const json::value& v : list) {
    const json::object& m = v.as_object();
    std::string accepts = "-";
    if (const auto* a = m.if_contains("accepts_changes"); a != nullptr && a->is_bool()) {
      accepts = a->as_bool() ? "yes" : "no (" + field(m, "changes_held") + ")";
    }
    rows.push_back({field(m, "name"), field(m, "status"), field(m, "sessions"), accepts,
                    field(m, "version"), field(m, "http")});
  }
  print_table(rows);
  return 0;
}

int sessions(Endpoint& node, const std::string& token, const CtlFlags& c) {
  json::array out;
  bool named_found = c.sessions_on.empty();
  std::vector<std::string> unreachable;
  auto all = members_of(node);
  if (!all) return failed(all.error());
  for (const json::value& v : all.value()) {
    const json::object& m = v.as_object();
    const std::string name = field(m, "name");
    if (!c.sessions_on.empty() && name != c.sessions_on) continue;
    named_found = true;
    if (!serving(m)) continue;
    Endpoint member = node.at(field(m, "http"), token);
    auto listed = member.expect("GET", "/api/v1/admin/sessions");
    if (!listed) {
      if (member.call("GET", "/healthz").status != 0) return failed(listed.error());  // refused
      unreachable.push_back(name);  // gone since the member list was read
      continue;
    }
    const auto* list = listed.value().if_contains("sessions");
    if (list == nullptr || !list->is_array()) continue;
    for (const json::value& s : list->as_array()) {
      if (!s.is_object()) continue;
      const std::string key = field(s.as_object(), "key");
      if (!c.sessions_filter.empty() && key.find(c.sessions_filter) == std::string::npos) continue;
      const json::value* epoch = s.as_object().if_contains("epoch");
      out.push_back(json::object{
          {"node", name}, {"key", key}, {"epoch", epoch != nullptr ? *epoch : json::value()}});
    }
  }
  if (!named_found) {
    return failed(
        fmt::format("no member named {}: `minotaur ctl members` lists them", c.sessions_on));
  }
  for (const std::string& name : unreachable) {
    std::fprintf(stderr, "ctl: %s did not answer; its sessions are not listed\n", name.c_str());
  }
  if (c.json) {
    print_json(out);
    return 0;
  }
  std::vector<std::vector<std::string>> rows{{"NODE", "SESSION", "EPOCH"}};
  for (const json::value& s : out) {
    const json::object& o = s.as_object();
    rows.push_back({field(o, "node"), field(o, "key"), field(o, "epoch")});
  }
  print_table(rows);
  std::printf("%zu session(s)\n", out.size());
  return 0;
}

int where(Endpoint& node, const CtlFlags& c) {
  const HttpAnswer a = node.call("GET", "/api/v1/games/" + c.game);
  if (a.status == 404) {
    return failed(
        fmt::format("no game {} in the cluster: check the id (`minotaur ctl sessions "
                    "{}` lists the sessions whose key contains it)",
                    c.game, c.game));
  }
  auto g = node.checked(a, "GET", "/api/v1/games/" + c.game);
  if (!g) return failed(g.error());
  json::object out{{"game", c.game}, {"node", field(g.value(), "node")}, {"epoch", nullptr}};
  if (const auto* e = g.value().if_contains("epoch")) out["epoch"] = *e;
  if (c.json) {
    print_json(out);
  } else {
    std::printf("game %s is hosted by %s (epoch %s)\n", c.game.c_str(), field(out, "node").c_str(),
                field(out, "epoch").c_str());
  }
  return 0;
}

// Graceful stops through the API, then progress until each node has exited: its API stops
// answering (a drained node closes it last, just before it leaves the cluster).
int drain(Endpoint& node, const std::string& token, const CtlFlags& c) {
  auto list = members_of(node);
  if (!list) return failed(list.error());
  std::map<std::string, std::string> targets;  // name -> API address
  for (const json::value& v : list.value()) {
    const json::object& m = v.as_object();
    const std::string name = field(m, "name");
    if (!c.drain_all && name != c.drain_node) continue;
    if (!serving(m)) {
      if (!c.drain_all) {
        return failed(fmt::format("{} is {}: there is nothing to drain", name, field(m, "status")));
      }
      continue;
    }
    targets[name] = field(m, "http");
  }
  if (targets.empty()) {
    return failed(c.drain_all ? std::string("no member serves: there is nothing to drain")
                              : fmt::format("no member named {}: `minotaur ctl members` lists "
                                            "them",
                                            c.drain_node));
  }
  // A member that stays, to confirm that each stopped node left the cluster (it closes its API
  // a moment before it leaves); none for --all.
  std::optional<std::string> observer;
  for (const json::value& v : list.value()) {
    const json::object& m = v.as_object();
    if (serving(m) && targets.count(field(m, "name")) == 0) observer = field(m, "http");
  }
  const auto left_the_cluster = [&](const std::string& name) {
    if (!observer) return true;
    Endpoint stays = node.at(*observer, "");
    auto members = members_of(stays);
    if (!members) return true;  // the observer went too: the API's silence is all there is
    for (const json::value& m : members.value()) {
      if (field(m.as_object(), "name") == name) return field(m.as_object(), "status") == "down";
    }
    return true;
  };
  const auto started = std::chrono::steady_clock::now();
  std::map<std::string, std::int64_t> left;  // name -> sessions it hosted when last asked
  for (const auto& [name, address] : targets) {
    Endpoint member = node.at(address, token);
    auto answer = member.expect("POST", "/api/v1/admin/drain", 202);
    if (!answer) return failed(answer.error());
    left[name] = sessions_in(answer.value(), 0);
    if (!c.json) {
      std::printf("%s: draining, %lld session(s) to hand off\n", name.c_str(),
                  static_cast<long long>(left[name]));
    }
  }
  std::map<std::string, double> exited;  // name -> seconds after the start
  const auto deadline = started + std::chrono::seconds(c.timeout_s);
  while (exited.size() < targets.size()) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::string waiting;
      for (const auto& [name, address] : targets) {
        if (exited.count(name) == 0) waiting += (waiting.empty() ? "" : ", ") + name;
      }
      return failed(
          fmt::format("still draining after {} s: {}; its log says what it waits for "
                      "(a node bounds each step of its drain, docs/SPEC.md section 2)",
                      c.timeout_s, waiting));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (const auto& [name, address] : targets) {
      if (exited.count(name) != 0) continue;
      Endpoint member = node.at(address, "");
      const HttpAnswer a = member.call("GET", "/api/v1/cluster");
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (a.status == 0) {
        if (!left_the_cluster(name)) continue;
        exited[name] = seconds;
        if (!c.json) std::printf("%s: drained and exited (%.1f s)\n", name.c_str(), seconds);
        continue;
      }
      const json::value v = a.json();
      const auto members = v.is_object() ? members_in(v.as_object()) : std::nullopt;
      if (!members) continue;
      for (const json::value& m : *members) {
        if (field(m.as_object(), "name") != name) continue;
        const std::int64_t now = sessions_in(m.as_object(), left[name]);
        if (now != left[name] && !c.json) {
          std::printf("%s: %lld session(s) left\n", name.c_str(), static_cast<long long>(now));
        }
        left[name] = now;
      }
    }
  }
  if (c.json) {
    json::array out;
    for (const auto& [name, seconds] : exited) {
      out.push_back(json::object{{"node", name}, {"exited_after_s", seconds}});
    }
    print_json(json::object{{"drained", std::move(out)}});
  }
  return 0;
}

// An operator removes the name of a member that is gone for good, so that the quorum shrinks
// (docs/SPEC.md, "Admin calls": when it is refused, and when --force is safe).
int remove(Endpoint& node, const CtlFlags& c) {
  const std::string path = "/api/v1/admin/members/" + c.remove_name + "/remove";
  const HttpAnswer a = node.call("POST", path, c.force ? R"({"force":true})" : "");
  const json::value v = a.json();
  if (a.status == 409 || a.status == 404 || a.status == 503) {
    std::string code = "-", message = a.body;
    if (const auto* o = v.if_object()) {
      if (const auto* e = o->if_contains("error"); e != nullptr && e->is_object()) {
        code = field(e->as_object(), "code");
        message = field(e->as_object(), "message");
      }
    }
    std::string next;
    if (code == "member_alive") next = ": stop it first (minotaur ctl drain " + c.remove_name + ")";
    if (code == "no_quorum") {
      next =
          ": ask a node that holds the quorum with --node, or, if the majority is gone for "
          "good, give --force";
    }
    if (code == "membership_changing") next = ": try again in a moment";
    if (code == "member_not_found") next = ": `minotaur ctl members` lists the names";
    return failed(fmt::format("{} refused to remove {} ({}: {}){}", node.address(), c.remove_name,
                              code, message, next));
  }
  auto answer = node.checked(a, "POST", path);
  if (!answer) return failed(answer.error());
  if (c.json) {
    print_json(answer.value());
  } else {
    const auto* quorum = answer.value().if_contains("quorum");
    const json::object q =
        quorum != nullptr && quorum->is_object() ? quorum->as_object() : json::object{};
    std::printf("removed %s; the cluster has %s voter(s) now\n", c.remove_name.c_str(),
                field(q, "voters").c_str());
  }
  return 0;
}

}  // namespace

void add_ctl_command(CLI::App& app, CtlFlags& c) {
  c.cmd = app.add_subcommand(
      "ctl", "Look at a running cluster and stop its nodes gracefully, through any member's API.");
  c.cmd->require_subcommand(1);
  c.cmd->add_option("--node", c.node, "HOST:PORT of any member's HTTP API")
      ->envname("MINOTAUR_NODE")
      ->capture_default_str();
  c.cmd
      ->add_option("--admin-token-file", c.admin_token_file,
                   "File holding the admin token (or set MINOTAUR_ADMIN_TOKEN); `sessions` and "
                   "`drain` need it")
      ->envname("MINOTAUR_ADMIN_TOKEN_FILE");
  c.cmd->add_flag("--tls", c.tls,
                  "The nodes' API speaks TLS (minotaur node --tls-cert): HTTPS, the nodes "
                  "verified against the system's CA certificates");
  c.cmd
      ->add_option("--tls-ca", c.tls_ca,
                   "HTTPS, the nodes verified against the CA certificates in this PEM file "
                   "instead of the system's")
      ->envname("MINOTAUR_TLS_CA");
  c.cmd->add_flag("--json", c.json, "JSON for scripts instead of tables");
  c.members = c.cmd->add_subcommand(
      "members", "Each member: status, sessions, whether it accepts changes, version, API address");
  c.sessions = c.cmd->add_subcommand("sessions", "The sessions each member hosts now, with epochs");
  c.sessions->add_option("filter", c.sessions_filter, "Only sessions whose key contains this");
  c.sessions->add_option("--on", c.sessions_on, "Only this member's sessions");
  c.where = c.cmd->add_subcommand("where", "Which node hosts a game now, at which epoch");
  c.where->add_option("game", c.game, "The game's id")->required();
  c.drain = c.cmd->add_subcommand(
      "drain",
      "Stop a node gracefully (as SIGTERM: its sessions go to the others), with progress until "
      "it has exited; --all stops every node at once (with data dirs, the whole cluster comes "
      "back with every game)");
  auto* name = c.drain->add_option("name", c.drain_node, "The member to stop");
  auto* all = c.drain->add_flag("--all", c.drain_all, "Every member, in parallel");
  name->excludes(all);
  c.remove = c.cmd->add_subcommand(
      "remove",
      "Remove the name of a member that is gone for good, so that the quorum shrinks (the "
      "way out of a lost majority: docs/SPEC.md, \"Admin calls\")");
  c.remove->add_option("name", c.remove_name, "The member's name")->required();
  c.remove->add_flag("--force", c.force,
                     "Without the quorum: only when the majority's machines are gone for good");
  c.drain->add_option("--timeout-s", c.timeout_s, "How long to wait for the exits")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
}

int run_ctl_command(const CtlFlags& c) {
  if (!transport::parse_host_port(c.node)) {
    std::fprintf(stderr, "ctl: --node %s: %s; give HOST:PORT of a member's HTTP API\n",
                 c.node.c_str(), transport::parse_host_port(c.node).error().c_str());
    return 2;
  }
  if (c.remove->parsed() && c.remove_name.find_first_of("/?#% \t") != std::string::npos) {
    std::fprintf(stderr, "ctl remove: '%s' is no member name; `minotaur ctl members` lists them\n",
                 c.remove_name.c_str());
    return 2;
  }
  if (c.drain->parsed() && !c.drain_all && c.drain_node.empty()) {
    std::fprintf(stderr, "ctl drain: name the member to stop, or give --all\n");
    return 2;
  }
  std::string token;
  if (!c.admin_token_file.empty()) {
    std::string error;
    token = read_secret_file(c.admin_token_file, error);
    if (!error.empty()) {
      std::fprintf(stderr, "ctl: --admin-token-file: %s\n", error.c_str());
      return 2;
    }
  } else if (const char* t = std::getenv("MINOTAUR_ADMIN_TOKEN")) {
    token = t;
  }
  std::shared_ptr<ssl::context> tls;
  if (c.tls || !c.tls_ca.empty()) {
    auto context = tooling::client_tls_context(c.tls_ca);
    if (!context) {
      std::fprintf(stderr, "ctl: --tls-ca: %s\n", context.error().c_str());
      return 2;
    }
    tls = std::move(context).value();
  }
  Endpoint node(c.node, token, tls);
  if (c.members->parsed()) return members(node, c);
  if (c.sessions->parsed()) return sessions(node, token, c);
  if (c.where->parsed()) return where(node, c);
  if (c.drain->parsed()) return drain(node, token, c);
  if (c.remove->parsed()) return remove(node, c);
  return 2;
}

}  // namespace minotaur::app
