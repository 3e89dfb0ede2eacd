#include "bench/games_setup.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <mutex>
#include <thread>

namespace minotaur::bench {

namespace json = boost::json;

namespace {

std::string game_body(const std::string& id, const std::string& player1,
                      const std::string& player2) {
  json::array players;
  players.push_back(json::object{{"id", 1},
                                 {"user_id", player1},
                                 {"display_name", "p1"},
                                 {"coord", json::object{{"q", 0}, {"r", 0}}}});
  players.push_back(json::object{{"id", 2},
                                 {"user_id", player2},
                                 {"display_name", "p2"},
                                 {"coord", json::object{{"q", 0}, {"r", 0}}}});
  return json::serialize(json::object{{"id", id}, {"players", std::move(players)}});
}

}  // namespace

void sleep_s(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

Result<User, std::string> create_user(HttpClient& http, const std::string& name) {
  const auto a =
      http.request("POST", "/api/v1/users", json::serialize(json::object{{"display_name", name}}));
  if (a.status != 201) {
    return err(fmt::format("POST /api/v1/users answered {}: {}", a.status, a.body));
  }
  const auto j = a.json();
  return User{std::string(j.at("user_id").as_string()), std::string(j.at("token").as_string())};
}

void on_threads(const std::vector<std::uint16_t>& ports, std::size_t count,
                const std::function<void(HttpClient&, std::size_t)>& fn) {
  constexpr std::size_t kThreads = 4;
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient http(ports[t % ports.size()]);
      for (std::size_t i = t; i < count; i += kThreads) fn(http, i);
    });
  }
  for (auto& th : threads) th.join();
}

HttpAnswer call_until(HttpClient& http, const std::string& method, const std::string& path,
                      const std::string& body, const std::string& token,
                      const std::function<bool(const HttpAnswer&, int attempt)>& done) {
  HttpAnswer a;
  for (int attempt = 0; attempt < 50; ++attempt) {
    a = http.request(method, path, body, token);
    if (done(a, attempt)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return a;
}

Result<Ok, std::string> create_games(const std::vector<std::uint16_t>& ports,
                                     const std::string& admin_token,
                                     std::vector<SessionRecord>& records,
                                     const std::vector<User>& players, const User& opponent,
                                     const Progress& progress, const std::string& what) {
  std::atomic<std::size_t> done{0};
  std::atomic<bool> finished{false};
  std::mutex error_mutex;
  std::string error;
  std::thread reporter([&] {
    for (int tick = 1; !finished; ++tick) {
      sleep_s(0.1);
      if (tick % 10 == 0) {
        progress(fmt::format("{}: {} of {} games created", what, done.load(), records.size()));
      }
    }
  });
  on_threads(ports, records.size(), [&](HttpClient& http, std::size_t i) {
    SessionRecord& r = records[i];
    const HttpAnswer a = call_until(http, "POST", "/api/v1/games",
                                    game_body(r.game_id, players[r.client].id, opponent.id),
                                    admin_token, [](const HttpAnswer& x, int attempt) {
                                      // 409 after a retry: the attempt that got no answer did
                                      // create it.
                                      return x.status == 201 || (x.status == 409 && attempt > 0);
                                    });
    if (a.status == 201) {
      r.host = std::string(a.json().at("node").as_string());
    } else if (a.status != 409) {
      std::lock_guard lock(error_mutex);
      error = fmt::format("creating {} failed: {} {}; see the nodes' logs", r.game_id, a.status,
                          a.body);
    }
    ++done;
  });
  finished = true;
  reporter.join();
  if (!error.empty()) return err(error);
  return Ok{};
}

std::vector<std::uint16_t> ports_of(const NodeProcs& procs) {
  std::vector<std::uint16_t> out;
  for (std::size_t i = 0; i < procs.size(); ++i) out.push_back(procs.http_port(i));
  return out;
}

}  // namespace minotaur::bench
