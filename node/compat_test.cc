// The rolling deploy the project exists for, across two real builds. A 3-node cluster of the
// previous release's `minotaur` (compat/previous, built from git history by
// scripts/build-previous.sh) is rolled node by node onto this build and then back again (a
// rollback), while players act over HTTP and over a WebSocket and a subscriber watches games.
//
// After every step, with the players paused: every game and lobby is served, by whichever build
// hosts it now, with exactly the state its last acknowledged change left, so a state that one
// build writes and the other misreads fails here; no epoch of a game was reported by two nodes;
// and the cluster listing names each member's build. At the end, the subscriber has seen every
// version of its games once and in order, across its moves from a node being stopped to one that
// stays.
#include <gtest/gtest.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <stop_token>
#include <thread>

#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

namespace json = boost::json;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;
using testing::ClusterHarness;
using testing::NodeSpec;

constexpr int kGames = 60;
constexpr int kLobbies = 6;
constexpr int kWatched = 3;  // games the subscriber watches: g_compat0 .. g_compat2
constexpr int kHttpWriters = 2;

std::string game_id(int i) {
  return "g_compat" + std::to_string(i);
}

struct Build {
  std::string executable;
  std::string version;
  std::string commit;
  std::string label() const { return version + " (" + commit + ")"; }
};

// What `EXECUTABLE --version` names: "minotaur 0.1.0 (commit 1a2b3c4d5e6f)".
Build build_of(ClusterHarness& c, const std::string& executable) {
  const auto [code, out] = c.run_minotaur({"--version"}, executable);
  EXPECT_EQ(code, 0) << executable << ": " << out;
  std::smatch m;
  EXPECT_TRUE(std::regex_search(out, m, std::regex(R"(minotaur (\S+) \(commit ([0-9a-f]+)\))")))
      << executable << ": " << out;
  if (m.empty()) return {executable, "", ""};
  return {executable, m[1], m[2]};
}

template <std::size_t N>
json::object fields_of(const json::value& v, const std::array<const char*, N>& fields) {
  json::object out;
  for (const char* field : fields) {
    if (const auto* f = v.as_object().if_contains(field)) out[field] = *f;
  }
  return out;
}

// The fields of a game's or a lobby's JSON that are its state, as opposed to where it is hosted
// now: what both builds must agree on.
json::object state_of(const json::value& game) {
  static constexpr std::array kFields{"id",          "join_code",          "status",
                                      "round",       "round_ends_at_ms",   "players",
                                      "version",     "registered_actions", "winner_player_id",
                                      "board_radius"};
  // A player's fields that the previous release has too: this build's readiness is state that an
  // older node does not keep (by the rules it reads as "not ready"), so it is not compared.
  static constexpr std::array kPlayerFields{"id",     "user_id",       "display_name",
                                            "health", "action_points", "coord"};
  json::object out = fields_of(game, kFields);
  if (auto* players = out.if_contains("players"); players != nullptr && players->is_array()) {
    for (json::value& p : players->as_array()) p = fields_of(p, kPlayerFields);
  }
  return out;
}
json::object lobby_state_of(const json::value& lobby) {
  static constexpr std::array kFields{"join_code", "host_user_id", "members",
                                      "status",    "game_id",      "version"};
  return fields_of(lobby, kFields);
}

std::int64_t version_of(const json::value& game) {
  return game.at("version").to_number<std::int64_t>();
}

// What the players were told: the state of each game's newest acknowledged version, and which
// node reported which epoch of each game.
class Acknowledged {
 public:
  void record(const json::value& game) {
    const std::string id(game.at("id").as_string());
    std::lock_guard lock(mu_);
    ++count_;
    const auto* epoch = game.as_object().if_contains("epoch");
    const auto* host = game.as_object().if_contains("node");
    if (epoch != nullptr && host != nullptr) {
      auto [it, fresh] = owner_.try_emplace({id, epoch->to_number<std::int64_t>()},
                                            std::string(host->as_string()));
      if (!fresh && it->second != host->as_string()) {
        conflicts_.push_back(id + " epoch " + std::to_string(it->first.second) + ": " + it->second +
                             " and " + std::string(host->as_string()));
      }
    }
    auto& last = state_[id];
    if (last.empty() || version_of(last) < version_of(game)) last = state_of(game);
  }
  // A read that found a newer version than any acknowledged (a change applied whose answer was
  // lost with its node): it is the state to compare with from now on.
  void adopt(const json::value& game) {
    std::lock_guard lock(mu_);
    state_[std::string(game.at("id").as_string())] = state_of(game);
  }
  json::object last(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = state_.find(id);
    return it == state_.end() ? json::object{} : it->second;
  }
  int count() const {
    std::lock_guard lock(mu_);
    return count_;
  }
  std::vector<std::string> conflicts() const {
    std::lock_guard lock(mu_);
    return conflicts_;
  }

 private:
  mutable std::mutex mu_;
  int count_ = 0;
  std::map<std::string, json::object> state_;
  std::map<std::pair<std::string, std::int64_t>, std::string> owner_;
  std::vector<std::string> conflicts_;
};

// The nodes the players may use: the test takes a node out before it stops it and puts it back
// once it is ready again, and pauses the players while it compares what the cluster serves with
// what they were told.
struct Traffic {
  std::array<std::atomic<bool>, 3> usable{true, true, true};
  std::atomic<bool> paused{false};
  std::atomic<int> in_flight{0};

  // A call not acknowledged, and why ("HTTP 503 not_replicated", "WebSocket: no answer"); each
  // step prints the tally, so that a run shows what the players met during the roll.
  void refuse(const std::string& why) {
    std::lock_guard lock(mu);
    ++refused[why];
  }
  std::string refusals() const {
    std::lock_guard lock(mu);
    std::string out;
    for (const auto& [why, count] : refused)
      out += (out.empty() ? "" : ", ") + why + " x" + std::to_string(count);
    return out.empty() ? "none" : out;
  }
  mutable std::mutex mu;
  std::map<std::string, int> refused;

  // A player's call counts as in flight from before it looks at `paused`, so that pause() cannot
  // miss one: false when paused (then it is not in flight).
  bool begin_call() {
    ++in_flight;
    if (!paused) return true;
    --in_flight;
    return false;
  }
  void end_call() { --in_flight; }
  // A usable node, or -1 while none is.
  int pick(std::mt19937& rng) {
    const int start = static_cast<int>(rng() % 3);
    for (int k = 0; k < 3; ++k) {
      const int n = (start + k) % 3;
      if (usable[static_cast<std::size_t>(n)]) return n;
    }
    return -1;
  }
  // Waits until no player call is in flight, then keeps them from starting new ones.
  void pause() {
    paused = true;  // then no call begins
    while (in_flight > 0) std::this_thread::sleep_for(5ms);
  }
  void resume() { paused = false; }
};

struct Axis {
  int q = 0;
  int r = 0;
};

// A player's move for this round: back and forth along `axis`, so that nobody drifts far
// whatever rounds are missed.
std::string move_body(const json::value& last_state, Axis axis) {
  std::int64_t round = 1;
  if (last_state.is_object()) {
    if (const auto* r = last_state.as_object().if_contains("round")) round = r->to_number<int>();
  }
  const int sign = round % 2 == 1 ? 1 : -1;
  return json::serialize(json::object{
      {"type", "move"}, {"vector", json::object{{"q", sign * axis.q}, {"r", sign * axis.r}}}});
}

// One WebSocket client: connect, send, read one message with a deadline. Each socket belongs to
// one thread. Reads are asynchronous underneath, run for at most the deadline: Beast's time-outs
// do not apply to its blocking calls, and a read that timed out stays pending for the next call.
class WsClient {
 public:
  ~WsClient() { close(); }
  bool connect(std::uint16_t port) {
    close();
    ws_ = std::make_unique<websocket::stream<beast::tcp_stream>>(io_);
    beast::error_code ec;
    beast::get_lowest_layer(*ws_).socket().connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) ws_->handshake("127.0.0.1", "/api/v1/ws", ec);
    if (ec) ws_.reset();
    return ws_ != nullptr;
  }
  bool send(const json::value& message) {
    beast::error_code ec;
    ws_->write(boost::asio::buffer(json::serialize(message)), ec);
    return !ec;
  }
  // The next message, or null when none came within `timeout` (or before `stop`; the socket stays
  // open and the read goes on) or the socket failed (then open() is false).
  json::value read(std::chrono::milliseconds timeout, const std::stop_token* stop = nullptr) {
    if (!reading_) {
      reading_ = true;
      done_ = false;
      ws_->async_read(buf_, [this](beast::error_code ec, std::size_t) {
        error_ = ec;
        done_ = true;
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done_ && std::chrono::steady_clock::now() < deadline &&
           (stop == nullptr || !stop->stop_requested())) {
      io_.restart();
      io_.run_for(20ms);
    }
    if (!done_) return nullptr;
    reading_ = false;
    if (error_) {
      close();
      return nullptr;
    }
    beast::error_code ec;
    json::value m = json::parse(beast::buffers_to_string(buf_.data()), ec);
    buf_.consume(buf_.size());
    return m;
  }
  void close() {
    if (ws_ == nullptr) return;
    beast::error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
    io_.restart();
    io_.run();  // a pending read completes, aborted
    ws_.reset();
    reading_ = false;
  }
  bool open() const { return ws_ != nullptr; }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer buf_;
  bool reading_ = false;
  bool done_ = false;
  beast::error_code error_;
};

// A subscription to the watched games on one node, read by a thread of its own until the node
// closes the socket or the test ends; it keeps the versions it was pushed, per game, in order.
class Watch {
 public:
  Watch(std::uint16_t port, int node) : node_(node) {
    ok_ = ws_.connect(port);
    for (int i = 0; ok_ && i < kWatched; ++i) {
      ok_ = ws_.send(json::object{{"op", "subscribe"}, {"game_id", game_id(i)}});
    }
    if (!ok_) return;
    thread_ = std::jthread([this](std::stop_token stop) {
      while (!stop.stop_requested()) {
        const json::value m = ws_.read(300ms, &stop);
        if (m.is_null()) {
          if (!ws_.open()) break;  // its node went away
          continue;
        }
        if (!m.is_object() || m.at("event") != "game") continue;
        std::lock_guard lock(mu_);
        versions_[std::string(m.at("game").at("id").as_string())].push_back(
            version_of(m.at("game")));
      }
    });
  }
  bool ok() const { return ok_; }
  int node() const { return node_; }
  // Whether it has had the first push of every watched game (so no version is missed when the
  // watch it replaces goes away).
  bool has_every_game() const {
    std::lock_guard lock(mu_);
    return versions_.size() == kWatched;
  }
  void stop() {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  std::map<std::string, std::vector<std::int64_t>> versions() const {
    std::lock_guard lock(mu_);
    return versions_;
  }

 private:
  int node_;
  bool ok_ = false;
  WsClient ws_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::int64_t>> versions_;
  std::jthread thread_;
};

TEST(Compat, AClusterRollsFromThePreviousReleaseToThisBuildAndBackUnderLoad) {
  ClusterHarness c;
  ASSERT_TRUE(std::filesystem::exists(MINOTAUR_PREVIOUS_BINARY))
      << MINOTAUR_PREVIOUS_BINARY << " is missing: build it with scripts/build-previous.sh";
  const Build previous = build_of(c, MINOTAUR_PREVIOUS_BINARY);
  const Build current = build_of(c, ClusterHarness::this_build());
  ASSERT_FALSE(previous.version.empty());
  ASSERT_FALSE(current.version.empty());
  std::printf("rolling from %s to %s and back\n", previous.label().c_str(),
              current.label().c_str());
  std::fflush(stdout);
  std::array<const Build*, 3> runs{&previous, &previous, &previous};

  // Long rounds: only the players and the admin end them, so that nothing changes a game while
  // the test compares it.
  constexpr std::int64_t kRoundMs = 600'000;
  std::vector<std::size_t> nodes;
  for (const char* name : {"n1", "n2", "n3"}) {
    nodes.push_back(c.start(
        NodeSpec(name).build(previous.executable).args({"--replication", "sync"}), kRoundMs));
  }
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    for (auto n : nodes) {
      if (c.members_seen_by(n).size() != 3) return false;
    }
    return true;
  }));

  const auto [u1, t1] = c.new_user(nodes[0], "P1");
  const auto [u2, t2] = c.new_user(nodes[1], "P2");
  Acknowledged acked;
  for (int i = 0; i < kGames; ++i) {
    const auto r =
        c.request(nodes[static_cast<std::size_t>(i) % 3], "POST", "/api/v1/games",
                  testing::game_json(game_id(i), {{1, u1, "P1", 0, 0}, {2, u2, "P2", 2, 0}}),
                  ClusterHarness::kAdminToken);
    ASSERT_EQ(r.status, 201) << r.body;
    acked.record(r.json());
  }
  std::vector<std::pair<std::string, json::value>> lobbies;  // join code -> as last read
  for (int i = 0; i < kLobbies; ++i) {
    auto r = c.request(nodes[static_cast<std::size_t>(i) % 3], "POST", "/api/v1/lobbies", "", t1);
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string code(r.json().at("join_code").as_string());
    r = c.request(nodes[static_cast<std::size_t>(i + 1) % 3], "POST",
                  "/api/v1/lobbies/" + code + "/join", "", t2);
    ASSERT_EQ(r.status, 200) << r.body;
    lobbies.emplace_back(code, r.json());
  }

  Traffic traffic;
  const auto call = [&](int n, const std::string& path, const std::string& body,
                        const std::string& token) {
    const auto r = c.request(nodes[static_cast<std::size_t>(n)], "POST", path, body, token);
    if (r.status == 200 && r.json().is_object()) {
      acked.record(r.json());
      return;
    }
    const json::value answer = r.json();
    const json::value* error =
        answer.is_object() ? answer.as_object().if_contains("error") : nullptr;
    traffic.refuse("HTTP " + std::to_string(r.status) + " " +
                   (error != nullptr && error->is_object() && error->as_object().contains("code")
                        ? json::serialize(error->at("code"))
                        : std::string("(no error code)")));
  };
  // HTTP players: P1 moves in a game, then the admin ends its round.
  const auto http_player = [&](std::stop_token stop, int first) {
    std::mt19937 rng(static_cast<unsigned>(first) + 7);
    for (int i = first; !stop.stop_requested(); i += kHttpWriters) {
      if (!traffic.begin_call()) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      const int n = traffic.pick(rng);
      if (n < 0) {
        traffic.end_call();
        std::this_thread::sleep_for(5ms);
        continue;
      }
      const std::string id = game_id(i % kGames);
      call(n, "/api/v1/games/" + id + "/actions", move_body(acked.last(id), {0, 1}), t1);
      call(n, "/api/v1/games/" + id + "/end_round", "", ClusterHarness::kAdminToken);
      traffic.end_call();
    }
  };
  // A WebSocket player: P2 moves in random games over one socket, which it opens again on
  // another node when its node goes away.
  const auto ws_player = [&](std::stop_token stop) {
    std::mt19937 rng(99);
    WsClient ws;
    int ws_node = -1;
    for (std::int64_t call_id = 1; !stop.stop_requested(); ++call_id) {
      if (!traffic.begin_call()) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      if (!ws.open() || !traffic.usable[static_cast<std::size_t>(ws_node)]) {
        ws.close();
        ws_node = traffic.pick(rng);
        if (ws_node < 0 || !ws.connect(c.http_port(nodes[static_cast<std::size_t>(ws_node)]))) {
          if (ws_node >= 0) traffic.refuse("WebSocket: cannot connect");
          ws_node = -1;
          traffic.end_call();
          std::this_thread::sleep_for(5ms);
          continue;
        }
      }
      const std::string id = game_id(static_cast<int>(rng() % kGames));
      const json::object act{{"op", "act"},
                             {"id", call_id},
                             {"game_id", id},
                             {"token", t2},
                             {"action", json::parse(move_body(acked.last(id), {1, 0}))}};
      const json::value answer = ws.send(act) ? ws.read(15s, &stop) : json::value(nullptr);
      if (answer.is_object() && answer.at("event") == "ack" && answer.at("id") == call_id) {
        acked.record(answer.at("game"));
      } else if (answer.is_null()) {
        traffic.refuse("WebSocket: no answer");
        ws.close();  // this socket is done with
      } else {
        const auto* error = answer.as_object().if_contains("error");
        const auto* code = error != nullptr && error->is_object()
                               ? error->as_object().if_contains("code")
                               : nullptr;
        traffic.refuse("WebSocket " +
                       (code != nullptr ? json::serialize(*code) : json::serialize(answer)));
      }
      traffic.end_call();
    }
  };

  std::vector<std::unique_ptr<Watch>> watches;
  const auto watch_on = [&](int n) {
    auto w = std::make_unique<Watch>(c.http_port(nodes[static_cast<std::size_t>(n)]), n);
    ASSERT_TRUE(w->ok()) << "cannot subscribe on " << c.name(nodes[static_cast<std::size_t>(n)]);
    ASSERT_TRUE(ClusterHarness::eventually([&] { return w->has_every_game(); }))
        << "no first push on " << c.name(nodes[static_cast<std::size_t>(n)]);
    watches.push_back(std::move(w));
  };
  watch_on(2);

  // Every game and lobby served, with the state of its last acknowledged change; every member
  // listed with the build it runs.
  const auto check = [&](const std::string& step) {
    traffic.pause();
    std::mt19937 rng(static_cast<unsigned>(step.size()));
    int newer = 0;
    for (int i = 0; i < kGames; ++i) {
      const std::string id = game_id(i);
      const std::size_t via = nodes[rng() % 3];
      const auto r = c.request(via, "GET", "/api/v1/games/" + id);
      ASSERT_EQ(r.status, 200) << step << ": " << id << " via " << c.name(via) << ": " << r.body;
      const json::value game = r.json();
      const json::object told = acked.last(id);
      ASSERT_GE(version_of(game), version_of(told)) << step << ": " << id << " lost a version";
      if (version_of(game) == version_of(told)) {
        EXPECT_EQ(json::serialize(state_of(game)), json::serialize(told))
            << step << ": " << id << " as served by " << game.at("node") << " (epoch "
            << game.at("epoch") << ") is not what its last acknowledged change left";
      } else {
        ++newer;
        acked.adopt(game);
      }
    }
    for (auto& [code, last] : lobbies) {
      const auto r = c.request(nodes[rng() % 3], "GET", "/api/v1/lobbies/" + code);
      ASSERT_EQ(r.status, 200) << step << ": lobby " << code << ": " << r.body;
      EXPECT_EQ(json::serialize(lobby_state_of(r.json())), json::serialize(lobby_state_of(last)))
          << step << ": lobby " << code;
    }
    EXPECT_TRUE(ClusterHarness::eventually([&] {
      for (std::size_t n : nodes) {
        const auto view = c.request(n, "GET", "/api/v1/cluster").json();
        if (!view.is_object()) return false;
        for (const auto& m : view.at("members").as_array()) {
          const std::size_t k = static_cast<std::size_t>(m.at("name").as_string().back() - '1');
          if (k >= 3 || m.at("status") != "up" || m.at("version") != runs[k]->version.c_str() ||
              m.at("commit") != runs[k]->commit.c_str()) {
            return false;
          }
        }
      }
      return true;
    })) << step
        << ": the listing does not name each member's build: "
        << c.request(nodes[0], "GET", "/api/v1/cluster").body;
    std::printf(
        "%s: %d acknowledged, %d games a version past the last acknowledged; not "
        "acknowledged: %s\n",
        step.c_str(), acked.count(), newer, traffic.refusals().c_str());
    std::fflush(stdout);
    traffic.resume();
  };
  check("before the roll");

  {
    std::vector<std::jthread> players;
    for (int w = 0; w < kHttpWriters; ++w) players.emplace_back(http_player, w);
    players.emplace_back(ws_player);

    const std::array<std::pair<int, const Build*>, 6> steps{{{0, &current},
                                                             {1, &current},
                                                             {2, &current},
                                                             {2, &previous},
                                                             {1, &previous},
                                                             {0, &previous}}};
    for (const auto& [n, build] : steps) {
      const std::size_t node = nodes[static_cast<std::size_t>(n)];
      const std::string step = c.name(node) + " onto " + build->label();
      // The subscriber moves to a node that stays before its own node stops.
      if (watches.back()->node() == n) {
        watch_on((n + 1) % 3);
        if (HasFatalFailure()) return;
      }
      const int acks_before = acked.count();
      std::this_thread::sleep_for(300ms);  // players at work before the stop
      traffic.usable[static_cast<std::size_t>(n)] = false;
      c.stop(node, SIGTERM);
      EXPECT_EQ(c.exit_code(node), 0) << step << ": the graceful stop of the old process";
      c.set_build(node, build->executable);
      c.restart(node);
      runs[static_cast<std::size_t>(n)] = build;
      ASSERT_TRUE(ClusterHarness::eventually(
          [&] {
            for (auto m : nodes) {
              const auto members = c.members_seen_by(m);
              if (members.size() != 3) return false;
              for (const auto& [name, status] : members) {
                if (status != "up") return false;
              }
            }
            return true;
          },
          30s))
          << step << ": the cluster did not see every member up again";
      traffic.usable[static_cast<std::size_t>(n)] = true;
      std::this_thread::sleep_for(300ms);  // players at work with the new process
      EXPECT_GT(acked.count(), acks_before) << step << ": no change was acknowledged meanwhile";
      check(step);
      if (HasFatalFailure()) return;
    }
  }  // the players stop here

  // A call cut short by the stop may have been applied without its answer being read, so the
  // games' versions now, not the last acknowledged, are what the subscriber must reach.
  std::map<std::string, std::int64_t> final_version;
  for (int i = 0; i < kWatched; ++i) {
    const std::string id = game_id(i);
    const auto r = c.request(nodes[0], "GET", "/api/v1/games/" + id);
    ASSERT_EQ(r.status, 200) << id << ": " << r.body;
    final_version[id] = version_of(r.json());
    EXPECT_GE(final_version[id], version_of(acked.last(id))) << id << " lost a version";
  }
  EXPECT_TRUE(ClusterHarness::eventually([&] {
    const auto versions = watches.back()->versions();
    for (const auto& [id, v] : final_version) {
      const auto it = versions.find(id);
      if (it == versions.end() || it->second.empty() || it->second.back() < v) return false;
    }
    return true;
  })) << "the subscriber did not get the last versions";
  for (auto& w : watches) w->stop();
  for (int i = 0; i < kWatched; ++i) {
    const std::string id = game_id(i);
    std::set<std::int64_t> seen;
    for (const auto& w : watches) {
      const auto versions = w->versions();
      const auto it = versions.find(id);
      if (it == versions.end()) continue;
      for (std::size_t k = 1; k < it->second.size(); ++k) {
        ASSERT_EQ(it->second[k], it->second[k - 1] + 1)
            << id << " on " << c.name(nodes[static_cast<std::size_t>(w->node())])
            << ": every version once and in order";
      }
      seen.insert(it->second.begin(), it->second.end());
    }
    ASSERT_FALSE(seen.empty()) << id;
    EXPECT_EQ(static_cast<std::int64_t>(seen.size()), *seen.rbegin() - *seen.begin() + 1)
        << id << ": the subscriber missed versions between its watches";
    EXPECT_EQ(*seen.rbegin(), final_version[id]) << id << ": its last version";
  }
  EXPECT_TRUE(acked.conflicts().empty()) << acked.conflicts().front();
}

}  // namespace
}  // namespace minotaur
