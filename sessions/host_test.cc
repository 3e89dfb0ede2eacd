#include "sessions/host.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>

#include "proto/codec.h"

namespace minotaur::sessions {
namespace {

// Runs `body` as a coroutine on a fresh io_context until it and everything it started finish.
template <class F>
void run(asio::io_context& io, F body) {
  auto done = asio::co_spawn(io, body(), asio::use_future);
  io.run();
  done.get();  // rethrows a failed assertion's exception, if any
}

HostOptions options(std::int64_t round_time_ms = 30'000) {
  HostOptions o;
  o.node_name = "n1";
  o.round_time_ms = round_time_ms;
  o.random_seed = 7;
  return o;
}

// Drops what expires, as the router does, and records it.
void drop_on_expiry(SessionHost& host, std::vector<std::string>& expired) {
  host.on_expired([&host, &expired](const std::string& key) {
    expired.push_back(key);
    host.remove(key);
  });
}

Caller user(const char* id) {
  return Caller{id, std::string("name_") + id, false};
}

TEST(SessionHost, LobbyToGameToActions) {
  asio::io_context io;
  SessionHost host(io.get_executor(), options());
  run(io, [&]() -> asio::awaitable<void> {
    auto lobby = host.create_lobby(user("u_a"), "");
    EXPECT_TRUE(lobby.ok());
    const std::string code = lobby.value().join_code;
    auto joined = host.join_lobby(code, user("u_b"));
    EXPECT_TRUE(joined.ok());
    auto not_host = host.start_lobby(code, user("u_b"));
    EXPECT_FALSE(not_host.ok());
    EXPECT_EQ(not_host.error().code, ErrorCode::kNotHost);
    auto started = host.start_lobby(code, user("u_a"));
    EXPECT_TRUE(started.ok());
    const std::string id = started.value().id;
    EXPECT_TRUE((host.create_game(started.value())).ok());

    auto g = host.get_game(id);
    EXPECT_TRUE(g.ok());
    EXPECT_EQ(g.value().node, "n1");
    EXPECT_EQ(g.value().epoch, 1u);
    EXPECT_EQ(g.value().game.players.size(), 2u);

    auto moved = host.act(id, user("u_a"), game::Move{{1, 0}});
    EXPECT_TRUE(moved.ok());
    EXPECT_EQ(moved.value().game.version, 1u);
    auto stranger = host.act(id, user("u_x"), game::Move{{1, 0}});
    EXPECT_FALSE(stranger.ok());
    EXPECT_EQ(stranger.error().code, ErrorCode::kNotAPlayer);
    // A player's end_round makes that player ready; the round ends once both are.
    auto ready = host.end_round(id, user("u_b"));
    EXPECT_TRUE(ready.ok());
    EXPECT_EQ(ready.value().game.round, 1);
    EXPECT_EQ(ready.value().game.version, 2u);
    EXPECT_TRUE(game::find_player_of_user(ready.value().game, "u_b")->ready);
    auto again = host.end_round(id, user("u_b"));  // ready already: nothing changes
    EXPECT_EQ(again.value().game.version, 2u);
    auto ended = host.end_round(id, user("u_a"));
    EXPECT_TRUE(ended.ok());
    EXPECT_EQ(ended.value().game.round, 2);
    EXPECT_EQ(ended.value().game.version, 3u) << "one version for the last ready and the round";
    EXPECT_EQ(ended.value().game.last_resolved_round, 1);
    EXPECT_FALSE(game::find_player_of_user(ended.value().game, "u_b")->ready);
    host.stop();
    co_return;  // run() takes a coroutine
  });
}

TEST(SessionHost, UnknownGamesAndLobbiesAreNotFound) {
  asio::io_context io;
  SessionHost host(io.get_executor(), options());
  run(io, [&]() -> asio::awaitable<void> {
    auto g = host.get_game("g_nope");
    EXPECT_FALSE(g.ok());
    EXPECT_EQ(g.error().code, ErrorCode::kGameNotFound);
    auto l = host.join_lobby("ZZZZ", user("u_a"));
    EXPECT_FALSE(l.ok());
    EXPECT_EQ(l.error().code, ErrorCode::kLobbyNotFound);
    co_return;  // run() takes a coroutine
  });
}

game::Game two_player_game(std::int64_t ends_at_ms) {
  game::Player a{1, "u_a", "A", 3, 1, {0, 0}, false, {}};
  game::Player b{2, "u_b", "B", 3, 1, {1, 0}, false, {}};
  return game::new_game("g_t", {a, b}, ends_at_ms);
}

TEST(SessionHost, TheRoundTimerEndsTheRoundAtItsDeadline) {
  asio::io_context io;
  SessionHost host(io.get_executor(), options(60'000));
  std::vector<std::uint64_t> versions;
  host.subscribe("g_t", [&](const GameView& v) { versions.push_back(v.game.version); });
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration fired_after{};
  run(io, [&]() -> asio::awaitable<void> {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    auto created = host.create_game(two_player_game(now + 150));
    EXPECT_TRUE(created.ok());
    asio::steady_timer wait(io, std::chrono::milliseconds(400));
    co_await wait.async_wait(asio::use_awaitable);
    auto g = host.get_game("g_t");
    EXPECT_EQ(g.value().game.round, 2);
    fired_after = std::chrono::steady_clock::now() - start;
    host.stop();
  });
  EXPECT_EQ(host.rounds_ended_by_timer(), 1u);
  EXPECT_EQ(versions, (std::vector<std::uint64_t>{0, 1}));
}

// A concluded game stays readable for its retention after its last round's deadline, then the
// owner is asked to drop it (the router removes it here and from the store).
TEST(SessionHost, AConcludedGameIsDroppedAfterItsRetention) {
  asio::io_context io;
  HostOptions o = options(60'000);
  o.concluded_retention_ms = 1'000;  // wide margins: a loaded machine delays timers
  o.wall_clock_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  SessionHost host(io.get_executor(), o);
  std::vector<std::string> expired;
  drop_on_expiry(host, expired);
  run(io, [&]() -> asio::awaitable<void> {
    game::Game g = two_player_game(o.wall_clock_ms() + 60'000);
    g.players[1].health = 0;  // B is out: A won
    g.status = game::Status::kConcluded;
    EXPECT_TRUE((host.create_game(g)).ok());
    // Its last deadline is 60 s away: the retention counts from there, so it is still here.
    asio::steady_timer wait(io, std::chrono::milliseconds(300));
    co_await wait.async_wait(asio::use_awaitable);
    EXPECT_TRUE((host.get_game("g_t")).ok());
    EXPECT_TRUE(expired.empty());
    host.stop();
  });
  // A game concluded at a deadline already past is dropped once the retention ran out.
  asio::io_context io2;
  SessionHost host2(io2.get_executor(), o);
  drop_on_expiry(host2, expired);
  run(io2, [&]() -> asio::awaitable<void> {
    game::Game g = two_player_game(o.wall_clock_ms() - 1);  // concluded at a past deadline
    g.players[1].health = 0;
    g.status = game::Status::kConcluded;
    EXPECT_TRUE((host2.create_game(g)).ok());
    asio::steady_timer first(io2, std::chrono::milliseconds(100));
    co_await first.async_wait(asio::use_awaitable);
    auto during = host2.get_game("g_t");
    EXPECT_TRUE(during.ok());  // concluded, still readable
    if (during.ok()) {
      EXPECT_EQ(during.value().game.status, game::Status::kConcluded);
    }
    EXPECT_TRUE(expired.empty());
    asio::steady_timer later(io2, std::chrono::milliseconds(1'500));
    co_await later.async_wait(asio::use_awaitable);
    EXPECT_FALSE((host2.get_game("g_t")).ok());
    host2.stop();
  });
  EXPECT_EQ(expired, (std::vector<std::string>{"game:g_t"}));
}

// A lobby nobody changed for its retention is dropped, so abandoned lobbies do not hold join
// codes for ever; every change (a join, the start) pushes the drop back; the time of the last
// change is state, so a lobby handed over with an old one goes at once.
TEST(SessionHost, ALobbyIsDroppedAfterItsRetentionWithoutAChange) {
  asio::io_context io;
  HostOptions o = options();
  o.lobby_retention_ms = 1'000;  // wide margins: a loaded machine delays timers
  SessionHost host(io.get_executor(), o);
  std::vector<std::string> expired;
  drop_on_expiry(host, expired);
  run(io, [&]() -> asio::awaitable<void> {
    auto lobby = host.create_lobby(user("u_a"), "ABCD");
    EXPECT_TRUE(lobby.ok());
    EXPECT_GT(lobby.value().changed_at_ms, 0);
    asio::steady_timer wait(io, std::chrono::milliseconds(600));
    co_await wait.async_wait(asio::use_awaitable);
    auto joined = host.join_lobby("ABCD", user("u_b"));
    EXPECT_TRUE(joined.ok());
    EXPECT_GE(joined.value().changed_at_ms, lobby.value().changed_at_ms + 500);
    // 1.1 s after its creation, but only 0.5 s after the join: still here.
    wait.expires_after(std::chrono::milliseconds(500));
    co_await wait.async_wait(asio::use_awaitable);
    EXPECT_TRUE((host.get_lobby("ABCD")).ok());
    EXPECT_TRUE(expired.empty());

    // Handed over with its last change long past: dropped on arrival.
    game::Lobby old = game::new_lobby("WXYZ", {"u_c", "C"});
    old.changed_at_ms = 1;  // 1 ms after 1970
    EXPECT_TRUE(host.install("lobby:WXYZ", proto::encode_lobby(old), false, 3).ok());
    EXPECT_TRUE(host.hosts("lobby:WXYZ"));

    for (int i = 0; i < 40 && expired.size() < 2; ++i) {
      wait.expires_after(std::chrono::milliseconds(100));
      co_await wait.async_wait(asio::use_awaitable);
    }
    EXPECT_FALSE((host.get_lobby("ABCD")).ok());
    EXPECT_FALSE(host.hosts("lobby:WXYZ"));
    host.stop();
  });
  EXPECT_EQ(expired, (std::vector<std::string>{"lobby:WXYZ", "lobby:ABCD"}));
}

// A frozen lobby (being handed off) is not dropped; unfreezing arms its drop again.
TEST(SessionHost, AFrozenLobbyIsNotDropped) {
  asio::io_context io;
  HostOptions o = options();
  o.lobby_retention_ms = 0;
  SessionHost host(io.get_executor(), o);
  std::vector<std::string> expired;
  drop_on_expiry(host, expired);
  run(io, [&]() -> asio::awaitable<void> {
    game::Lobby l = game::new_lobby("ABCD", {"u_a", "A"});
    l.changed_at_ms = 1;
    EXPECT_TRUE(host.install("lobby:ABCD", proto::encode_lobby(l), false, 2).ok());
    host.set_frozen("lobby:ABCD", true);
    asio::steady_timer wait(io, std::chrono::milliseconds(50));
    co_await wait.async_wait(asio::use_awaitable);
    EXPECT_TRUE(host.hosts("lobby:ABCD"));
    host.set_frozen("lobby:ABCD", false);
    wait.expires_after(std::chrono::milliseconds(50));
    co_await wait.async_wait(asio::use_awaitable);
    EXPECT_FALSE(host.hosts("lobby:ABCD"));
    host.stop();
  });
  EXPECT_EQ(expired, (std::vector<std::string>{"lobby:ABCD"}));
}

TEST(SessionHost, ListenersSeeEveryVersionInOrder) {
  asio::io_context io;
  SessionHost host(io.get_executor(), options());
  std::vector<std::uint64_t> versions;
  run(io, [&]() -> asio::awaitable<void> {
    auto created = host.create_game(two_player_game(0));
    EXPECT_TRUE(created.ok());
    const auto sub =
        host.subscribe("g_t", [&](const GameView& v) { versions.push_back(v.game.version); });
    const Caller admin{"", "", true};
    auto r1 = host.act("g_t", user("u_a"), game::Attack{2});
    auto r2 = host.act("g_t", user("u_b"), game::Move{{1, 0}});
    auto r3 = host.end_round("g_t", admin);
    host.unsubscribe("g_t", sub);
    auto r4 = host.end_round("g_t", admin);
    EXPECT_TRUE(r1.ok() && r2.ok() && r3.ok() && r4.ok());
    host.stop();
    co_return;  // run() takes a coroutine
  });
  EXPECT_EQ(versions, (std::vector<std::uint64_t>{0, 1, 2, 3}));
}

TEST(SessionHost, RefusesAnInvalidOrDuplicateGame) {
  asio::io_context io;
  SessionHost host(io.get_executor(), options());
  run(io, [&]() -> asio::awaitable<void> {
    game::Game bad = two_player_game(0);
    bad.players.pop_back();
    auto r = host.create_game(bad);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidGame);
    EXPECT_TRUE((host.create_game(two_player_game(0))).ok());
    auto again = host.create_game(two_player_game(0));
    EXPECT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, ErrorCode::kGameExists);
    host.stop();
    co_return;  // run() takes a coroutine
  });
}

}  // namespace
}  // namespace minotaur::sessions
