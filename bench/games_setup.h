// What the cluster bench's phases share to set a cluster up and read it over HTTP: users, games
// created on a few threads with retries, a call repeated until it is answered as wanted.
// Drivers: they block, sleep and start threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "bench/ws_load.h"
#include "tooling/http_client.h"
#include "tooling/node_procs.h"

namespace minotaur::bench {

using tooling::HttpAnswer;
using tooling::HttpClient;
using tooling::NodeProcs;
using tooling::NodeProcsOptions;

using Progress = std::function<void(std::string_view)>;

void sleep_s(double s);

struct User {
  std::string id;
  std::string token;
};

Result<User, std::string> create_user(HttpClient& http, const std::string& name);

// Calls fn(http, i) for every i below `count`, on a few threads that each hold one keep-alive
// connection to one of `ports`.
void on_threads(const std::vector<std::uint16_t>& ports, std::size_t count,
                const std::function<void(HttpClient&, std::size_t)>& fn);

// A call repeated (every 100 ms, 50 times at most) until `done` accepts its answer.
HttpAnswer call_until(HttpClient& http, const std::string& method, const std::string& path,
                      const std::string& body, const std::string& token,
                      const std::function<bool(const HttpAnswer&, int attempt)>& done);

// Creates the games of `records` (their game_id and client set), spread over `ports`; fills in
// each record's host. Retries what the cluster cannot take now.
Result<Ok, std::string> create_games(const std::vector<std::uint16_t>& ports,
                                     const std::string& admin_token,
                                     std::vector<SessionRecord>& records,
                                     const std::vector<User>& players, const User& opponent,
                                     const Progress& progress, const std::string& what);

// The HTTP ports of the nodes, in order.
std::vector<std::uint16_t> ports_of(const NodeProcs& procs);

}  // namespace minotaur::bench
