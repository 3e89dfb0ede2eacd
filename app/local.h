// `minotaur local`: a whole cluster on this machine, for people to play and to watch a rolling
// deploy. Checks that every port it needs is free, starts N `minotaur node` processes on
// loopback with a generated secret and a data dir each, waits until each is ready (and is its
// own: the node's name and this run's identity, not whatever answers on the port), prints the
// URL, and takes commands on standard input (restart N, kill N, roll, status, quit) and from the
// page through its control port (app/local_control.h).
// Ctrl-C, SIGTERM or quit stops every node at once (SIGTERM to all, then waits for each); each
// writes its games to its data dir, so the next start, in the same folder, brings them back.
#pragma once

#include <cstdint>
#include <string>

namespace minotaur::app {

struct LocalOptions {
  int nodes = 3;
  int first_http_port = 8080;
  int first_cluster_port = 9080;
  std::int64_t round_time_ms = 30'000;
  std::string dir;     // empty: a stable default (printed at start)
  bool fresh = false;  // drop the games of the last run first
};

int run_local(const LocalOptions& options, const char* argv0);

}  // namespace minotaur::app
