// PostgresServer: a throw-away PostgreSQL server for tests and `minotaur bench --database`, started
// from Debian's `postgresql` package (its initdb and pg_ctl under /usr/lib/postgresql/VERSION/bin,
// the newest version found; MINOTAUR_PG_BIN names another folder) in a temporary folder, on a free
// loopback port.
//
// PostgreSQL refuses to run as root, and CI runs as root: then every server command runs as the
// unprivileged user `nobody` (runuser), in a folder that user owns. The cluster is made with
// password authentication over TCP (user `minotaur`, password `minotaur-test`), so that a test
// can also give a wrong password. The destructor stops the server (immediately) and removes the
// folder, also when the test failed; stop() and start() in between stop it gracefully and start
// it again on the same port and data (the database going away and coming back). The servers
// of a test process that crashed are stopped by the next create().
//
// Not thread-safe: one test thread drives it. When PostgreSQL is not installed, start() fails
// with a message saying what to install.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"

namespace minotaur::tooling {

class PostgresServer {
 public:
  static constexpr const char* kUser = "minotaur";
  static constexpr const char* kPassword = "minotaur-test";

  // initdb + start; an error says what went wrong (and the server's log).
  static Result<std::unique_ptr<PostgresServer>, std::string> create();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  Result<Ok, std::string> stop();  // graceful (fast shutdown), waits until it is down
  Result<Ok, std::string> start();

  int port() const { return port_; }
  // postgresql://minotaur:minotaur-test@127.0.0.1:PORT/postgres, or with another password.
  std::string url(const std::string& password = kPassword) const;
  // Runs SQL through psql as the server's user (for tests that look at or change the rows
  // directly); its output, or an error.
  Result<std::string, std::string> psql(const std::string& sql) const;
  std::string log_tail() const;

 private:
  PostgresServer() = default;
  std::string as_server_user(const std::string& command) const;
  void stop_orphans() const;

  std::string bin_;
  std::string dir_;  // the temporary folder: data/ and the log
  int port_ = 0;
  bool as_nobody_ = false;
  bool running_ = false;
};

}  // namespace minotaur::tooling
