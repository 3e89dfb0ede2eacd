#include "tooling/postgres_server.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace minotaur::tooling {

namespace fs = std::filesystem;

namespace {

// The newest /usr/lib/postgresql/VERSION/bin that holds a server, or MINOTAUR_PG_BIN.
std::string find_bin() {
  if (const char* env = std::getenv("MINOTAUR_PG_BIN"); env != nullptr && env[0] != '\0') {
    return env;
  }
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string bin = e.path().string() + "/bin";
    if (!fs::exists(bin + "/postgres") || !fs::exists(bin + "/initdb")) continue;
    if (const int v = std::atoi(name.c_str()); v > best_version) {
      best_version = v;
      best = bin;
    }
  }
  return best;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// A process that runs (a zombie, killed but not yet reaped, does not).
bool process_alive(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto paren = line.rfind(')');  // the state follows the command name in parentheses
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

// Runs a shell command; its exit status and output (stdout and stderr).
std::pair<int, std::string> run(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, "cannot run: " + command};
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

// A test that crashed (no destructor ran) leaves its server running: each folder records the
// test process that made it, and the servers of processes that are gone are stopped here.
void PostgresServer::stop_orphans() const {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/tmp", ec)) {
    const std::string dir = e.path().string();
    if (e.path().filename().string().rfind("minotaur-pg-", 0) != 0) continue;
    std::ifstream in(dir + "/owner");
    long owner = 0;
    if (!(in >> owner) || owner <= 0) continue;
    if (process_alive(owner)) continue;
    if (fs::exists(dir + "/data/postmaster.pid")) {
      (void)run(as_server_user(
          fmt::format("{}/pg_ctl -D {}/data -w -t 30 -m immediate stop", bin_, dir)));
    }
    fs::remove_all(dir, ec);
  }
}

Result<std::unique_ptr<PostgresServer>, std::string> PostgresServer::create() {
  std::unique_ptr<PostgresServer> s(new PostgresServer());
  s->bin_ = find_bin();
  if (s->bin_.empty()) {
    return err(std::string(
        "no PostgreSQL server under /usr/lib/postgresql/*/bin: install Debian's postgresql "
        "package (scripts/install-deps.sh does), or set MINOTAUR_PG_BIN"));
  }
  s->as_nobody_ = ::geteuid() == 0;
  s->stop_orphans();
  char tmpl[] = "/tmp/minotaur-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return err(std::string("cannot create a temporary folder"));
  s->dir_ = tmpl;
  { std::ofstream(s->dir_ + "/owner") << ::getpid() << "\n"; }
  if (s->as_nobody_) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) return err(std::string("running as root, and there is no user nobody"));
    if (::chown(s->dir_.c_str(), nobody->pw_uid, nobody->pw_gid) != 0) {
      return err("cannot give " + s->dir_ + " to nobody");
    }
  }
  const std::string pwfile = s->dir_ + "/pwfile";
  { std::ofstream(pwfile) << kPassword << "\n"; }
  if (s->as_nobody_) {
    const passwd* nobody = ::getpwnam("nobody");
    (void)::chown(pwfile.c_str(), nobody->pw_uid, nobody->pw_gid);
  }
  auto [code, out] = run(s->as_server_user(fmt::format(
      "{}/initdb -D {}/data -U {} --pwfile={} --auth-host=scram-sha-256 --auth-local=trust "
      "-E UTF8 --no-sync",
      s->bin_, s->dir_, kUser, pwfile)));
  if (code != 0) return err("initdb failed: " + out);
  for (int attempt = 0; attempt < 3; ++attempt) {
    s->port_ = free_port();
    if (s->port_ == 0) continue;
    if (auto ok = s->start(); ok) return s;
  }
  return err("PostgreSQL did not start: " + s->log_tail());
}

std::string PostgresServer::as_server_user(const std::string& command) const {
  // `cd /` first: nobody may not enter the test's working folder.
  const std::string c = "cd / && " + command;
  return as_nobody_ ? "runuser -u nobody -- sh -c " + quoted(c) : "sh -c " + quoted(c);
}

Result<Ok, std::string> PostgresServer::start() {
  auto [code, out] = run(as_server_user(fmt::format(
      "{}/pg_ctl -D {}/data -l {}/log -w -t 30 -o {} start", bin_, dir_, dir_,
      quoted(fmt::format("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", port_, dir_)))));
  if (code != 0) return err("pg_ctl start: " + out);
  running_ = true;
  return Ok{};
}

Result<Ok, std::string> PostgresServer::stop() {
  auto [code, out] =
      run(as_server_user(fmt::format("{}/pg_ctl -D {}/data -w -t 30 -m fast stop", bin_, dir_)));
  if (code != 0) return err("pg_ctl stop: " + out);
  running_ = false;
  return Ok{};
}

PostgresServer::~PostgresServer() {
  if (running_) {
    (void)run(
        as_server_user(fmt::format("{}/pg_ctl -D {}/data -w -t 30 -m immediate stop", bin_, dir_)));
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string PostgresServer::url(const std::string& password) const {
  return fmt::format("postgresql://{}:{}@127.0.0.1:{}/postgres", kUser, password, port_);
}

Result<std::string, std::string> PostgresServer::psql(const std::string& sql) const {
  auto [code, out] =
      run(fmt::format("PGPASSWORD={} {}/psql -h 127.0.0.1 -p {} -U {} -d postgres "
                      "-v ON_ERROR_STOP=1 -At -c {}",
                      kPassword, bin_, port_, kUser, quoted(sql)));
  if (code != 0) return err("psql: " + out);
  return out;
}

std::string PostgresServer::log_tail() const {
  std::ifstream in(dir_ + "/log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
}

}  // namespace minotaur::tooling
