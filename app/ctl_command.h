// `minotaur ctl`: an operator's view of a running cluster, and its graceful stops, through the
// HTTP API of any one member (docs/SPEC.md section 2): `members`, `sessions`, `where GAME`,
// `drain NODE`, `drain --all`, `remove NAME`. Tables for people, `--json` for scripts; exit 0 when
// done, 1 when the cluster said no or did not answer (the message says what to do), 2 for a bad
// command line.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace minotaur::app {

struct CtlFlags {
  std::string node = "127.0.0.1:8080";  // HOST:PORT of any member's API
  std::string admin_token_file;
  bool tls = false;    // HTTPS, verified against the system's CA certificates
  std::string tls_ca;  // HTTPS, verified against the CA certificates in this file
  bool json = false;
  std::string sessions_on;      // sessions: only this member's
  std::string sessions_filter;  // sessions: only keys that contain this
  std::string game;             // where
  std::string drain_node;       // drain NODE
  bool drain_all = false;       // drain --all
  std::int64_t timeout_s = 60;  // drain: how long to wait for the exits
  std::string remove_name;      // remove NAME
  bool force = false;           // remove --force
  CLI::App* cmd = nullptr;
  CLI::App* members = nullptr;
  CLI::App* sessions = nullptr;
  CLI::App* where = nullptr;
  CLI::App* drain = nullptr;
  CLI::App* remove = nullptr;
};

void add_ctl_command(CLI::App& app, CtlFlags& c);
int run_ctl_command(const CtlFlags& c);

}  // namespace minotaur::app
