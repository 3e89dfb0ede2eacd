// Attacks from outside against real `minotaur node` processes on loopback: what an outsider
// with nothing but a socket, or a player with a token, tried against a cluster, each bounded
// in count and time. After every attack the node must be alive, ready, with its canary game
// unchanged, and its memory and log grown by a bounded amount (docs/THREATS.md).
//
// Client addresses: every address of 127.0.0.0/8 is loopback, so each test acts from its own
// (127.0.0.N) and the per-address budgets of one test do not touch another's.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "testing/cluster_harness.h"
#include "testing/raw_client.h"
#include "tooling/process.h"

namespace minotaur {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using testing::ClusterHarness;
using testing::http_from;
using testing::RawAnswer;
using testing::RawSocket;

constexpr const char* kCanary = "g_canary";

// Under ASan or TSan a process's memory says little (freed memory is held in quarantine, shadow
// memory grows), and their runtimes need file descriptors of their own (UBSan's vptr check
// opens a pipe: out of descriptors it reports a false error). The release pass checks both.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// One node with the client budgets on (the harness turns them off by default), a canary game,
// and what its process looked like before the attack.
class Attack : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--client-limits", "on"});
    node = cluster.start(testing::NodeSpec("target").args(args));
    const auto created = cluster.request(
        node, "POST", "/api/v1/games",
        testing::game_json(kCanary, {{1, "u_a", "Ada", 0, 0}, {2, "u_b", "Bob", 1, 0}}),
        ClusterHarness::kAdminToken);
    ASSERT_EQ(created.status, 201) << created.body;
    canary_version = version_of(kCanary);
    rss_before = tooling::process_rss_bytes(cluster.pid(node));
    log_before = log_bytes();
  }

  std::uint64_t version_of(const std::string& game) const {
    const auto g = cluster.request(node, "GET", "/api/v1/games/" + game).json();
    return g.is_object() ? g.at("version").to_number<std::uint64_t>() : 0;
  }
  std::uintmax_t log_bytes() const { return cluster.log(node).size(); }
  std::uint16_t port() const { return cluster.http_port(node); }

  // A counter or gauge of /metrics (the first sample of that name); -1 when absent.
  double metric(const std::string& name) const {
    const std::string text = cluster.request(node, "GET", "/metrics").body;
    const auto at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
  }

  // What must hold after any attack.
  void expect_unharmed(std::uint64_t max_rss_growth = 32u << 20) {
    ASSERT_TRUE(cluster.running(node)) << "the node died";
    // Ready again, though not always at once: after an attack that made a member rejoin, the
    // node regains the quorum's lease only with the next heartbeats.
    std::string not_ready;
    EXPECT_TRUE(ClusterHarness::eventually([&] {
      const auto ready = cluster.request(node, "GET", "/readyz");
      not_ready = ready.body;
      return ready.status == 200;
    })) << "/readyz: "
        << not_ready;
    EXPECT_EQ(version_of(kCanary), canary_version) << "the canary game changed";
    const std::uint64_t rss = tooling::process_rss_bytes(cluster.pid(node));
    if (!kSanitized) {
      EXPECT_LT(rss, rss_before + max_rss_growth) << "memory grew from " << rss_before;
    }
    EXPECT_LT(log_bytes(), log_before + 256 * 1024) << "the log grew too much";
  }

  ClusterHarness cluster;
  std::size_t node = 0;
  std::uint64_t canary_version = 0;
  std::uint64_t rss_before = 0;
  std::uintmax_t log_before = 0;
};

std::string chunked_post(const std::string& trailer) {
  return "POST /api/v1/users HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
         "0\r\n" +
         trailer + "\r\n";
}

// Chunked request bodies ended a node twice: one trailer field of 65,534 bytes made Beast throw
// inside a completion handler, and a final chunk sent a few bytes at a time failed an assertion
// in Beast's chunk parser. A body now needs a Content-Length: 411 before any of it is read,
// however it arrives, and the node serves on.
TEST_F(Attack, AChunkedBodyIsRefusedAndTheNodeServesOn) {
  start();
  RawSocket trailer("127.0.0.2", port());
  trailer.send_all(chunked_post("X-Big: " + std::string(65'534, 'a') + "\r\n"));
  EXPECT_EQ(testing::parse_answer(trailer.read_until_close(5s)).status, 411);

  // The final chunk alone, then the rest in single bytes: the node reads each piece as it
  // comes, as Beast did when it asserted.
  RawSocket pieces("127.0.0.2", port());
  pieces.send_all("POST / HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n");
  for (const char c : std::string("X: aaaaaaaa\r\n\r\n")) {
    std::this_thread::sleep_for(20ms);
    pieces.send_all(std::string(1, c));
  }
  EXPECT_EQ(testing::parse_answer(pieces.read_until_close(5s)).status, 411);

  // An endless trailer is not read either: the node answers and closes long before 8 MiB.
  std::string many_fields;
  while (many_fields.size() < (8u << 20)) many_fields += "X-Field: some value\r\n";
  RawSocket endless("127.0.0.3", port());
  const std::size_t taken = endless.send_all(chunked_post(many_fields));
  EXPECT_EQ(testing::parse_answer(endless.read_until_close(5s)).status, 411);
  EXPECT_LT(taken, many_fields.size()) << "the node read the whole 8 MiB trailer";
  expect_unharmed();
}

// Watchers that never read: their pushes pile up until the node closes them (a write past its
// deadline, or a full queue), and the memory they held is bounded.
TEST_F(Attack, WebSocketClientsThatNeverReadAreDisconnected) {
  start();
  // Pushes of about 2 KB: eight players with long names.
  std::vector<testing::PlayerSpec> players;
  for (int i = 1; i <= 8; ++i) {
    players.push_back({i, "u_p" + std::to_string(i), std::string(60, 'n') + std::to_string(i),
                       i % 3 - 1, i / 3 - 1});
  }
  ASSERT_EQ(cluster
                .request(node, "POST", "/api/v1/games", testing::game_json("g_loud", players),
                         ClusterHarness::kAdminToken)
                .status,
            201);
  constexpr int kWatchers = 8;
  std::vector<std::unique_ptr<RawSocket>> watchers;
  for (int i = 0; i < kWatchers; ++i) {
    auto s = std::make_unique<RawSocket>("127.0.0.4", port(), 4096);
    s->send_all(testing::ws_upgrade_request());
    ASSERT_NE(s->read_until("\r\n\r\n", 5s).find(" 101 "), std::string::npos);
    s->send_all(testing::ws_text_frame(R"({"op":"subscribe","game_id":"g_loud"})"));
    watchers.push_back(std::move(s));
  }
  ASSERT_TRUE(
      ClusterHarness::eventually([&] { return metric("minotaur_websockets") == kWatchers; }));
  // Each ended round is a push to every watcher; none of them reads.
  for (int round = 0; round < 6'000 && metric("minotaur_websockets") > 0; round += 500) {
    for (int i = 0; i < 500; ++i) {
      cluster.request(node, "POST", "/api/v1/games/g_loud/end_round", "",
                      ClusterHarness::kAdminToken);
    }
  }
  // A write waits 10 s before it closes its socket; a sanitized node is slower to get there.
  EXPECT_TRUE(ClusterHarness::eventually([&] { return metric("minotaur_websockets") == 0; },
                                         kSanitized ? 60s : 20s))
      << "still open: " << metric("minotaur_websockets");
  EXPECT_GE(metric("minotaur_websockets_too_slow_total"), kWatchers);
  expect_unharmed(64u << 20);
}

// One address cannot take every connection slot, and idle sockets that name no user and watch
// no game are closed; other clients are served throughout.
TEST_F(Attack, OneAddressCannotTakeEveryConnection) {
  start();
  std::vector<std::unique_ptr<RawSocket>> held;
  int refused = 0;
  for (int i = 0; i < 300; ++i) {
    held.push_back(std::make_unique<RawSocket>("127.0.0.5", port()));
  }
  std::this_thread::sleep_for(500ms);  // every one accepted, and the extra ones closed
  for (auto& s : held) refused += s->closed_within(1ms) ? 1 : 0;
  EXPECT_EQ(refused, 300 - 256) << "the per-address limit is 256 open connections";
  EXPECT_EQ(http_from("127.0.0.6", port(), "GET", "/readyz").status, 200);
  held.clear();

  std::vector<std::unique_ptr<RawSocket>> idle;
  for (int i = 0; i < 5; ++i) {
    auto s = std::make_unique<RawSocket>("127.0.0.7", port());
    s->send_all(testing::ws_upgrade_request());
    ASSERT_NE(s->read_until("\r\n\r\n", 5s).find(" 101 "), std::string::npos);
    idle.push_back(std::move(s));
  }
  RawSocket watching("127.0.0.7", port());
  watching.send_all(testing::ws_upgrade_request());
  ASSERT_NE(watching.read_until("\r\n\r\n", 5s).find(" 101 "), std::string::npos);
  watching.send_all(testing::ws_text_frame(R"({"op":"subscribe","game_id":"g_canary"})"));
  for (auto& s : idle) EXPECT_TRUE(s->closed_within(15s)) << "an idle anonymous socket stayed";
  EXPECT_FALSE(watching.closed_within(500ms)) << "a socket that watches a game was closed";
  EXPECT_GE(metric("minotaur_websockets_idle_closed_total"), 5);
  expect_unharmed();
}

// With every connection slot taken, monitors still read health and metrics.
TEST_F(Attack, HealthAndMetricsAnswerWhenEveryConnectionIsTaken) {
  start({"--max-connections", "20"});
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 20; ++i) held.push_back(std::make_unique<RawSocket>("127.0.0.8", port()));
  std::this_thread::sleep_for(200ms);  // all accepted
  EXPECT_EQ(http_from("127.0.0.9", port(), "GET", "/readyz").status, 200);
  EXPECT_EQ(http_from("127.0.0.9", port(), "GET", "/metrics").status, 200);
  const RawAnswer api = http_from("127.0.0.9", port(), "GET", "/api/v1/cluster");
  EXPECT_EQ(api.status, 503);
  EXPECT_NE(api.body.find("too_many_connections"), std::string::npos);
  held.clear();
  EXPECT_TRUE(ClusterHarness::eventually(
      [&] { return http_from("127.0.0.9", port(), "GET", "/api/v1/cluster").status == 200; }));
  expect_unharmed();
}

// Out of file descriptors, the accept loop waits between tries instead of spinning (it had
// taken a core and written millions of log lines in seconds), and serves again after.
TEST_F(Attack, OutOfFileDescriptorsTheNodeWaitsAndRecovers) {
  if (kSanitized) GTEST_SKIP() << "the sanitizers' runtimes need file descriptors themselves";
  start();
  const pid_t pid = cluster.pid(node);
  std::size_t open_fds = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++open_fds;
  }
  // Only the soft limit: raising a hard limit back would need CAP_SYS_RESOURCE.
  rlimit old{};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0);
  rlimit tight{open_fds + 8, old.rlim_max};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &tight, nullptr), 0);
  std::vector<std::unique_ptr<RawSocket>> held;
  for (int i = 0; i < 40; ++i) held.push_back(std::make_unique<RawSocket>("127.0.0.10", port()));
  std::this_thread::sleep_for(300ms);
  const std::uint64_t cpu_before = tooling::process_cpu_ms(pid);
  std::this_thread::sleep_for(2s);
  const std::uint64_t cpu_used = tooling::process_cpu_ms(pid) - cpu_before;
  EXPECT_LT(cpu_used, 500u) << "the node spun on accept for " << cpu_used << " ms of 2,000";
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &old, nullptr), 0);
  held.clear();
  EXPECT_TRUE(ClusterHarness::eventually(
      [&] { return http_from("127.0.0.11", port(), "GET", "/readyz").status == 200; }));
  EXPECT_GT(metric("minotaur_http_accept_errors_total"), 0)
      << cluster.request(node, "GET", "/metrics").body;
  expect_unharmed();
}

// Join codes cannot be enumerated: wrong guesses cost, per address and per user, and a friend
// with the right code still joins.
TEST_F(Attack, JoinCodesCannotBeGuessed) {
  start();
  const auto user = [&](const std::string& source, const std::string& name) {
    const auto r = http_from(source, port(), "POST", "/api/v1/users",
                             json::serialize(json::object{{"display_name", name}}));
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(json::parse(r.body).at("token").as_string());
  };
  const std::string host = user("127.0.0.12", "Host");
  const RawAnswer lobby = http_from("127.0.0.12", port(), "POST", "/api/v1/lobbies", "", host);
  ASSERT_EQ(lobby.status, 201) << lobby.body;
  const std::string code(json::parse(lobby.body).at("join_code").as_string());

  const std::string guesser = user("127.0.0.13", "Guesser");
  int not_found = 0;
  RawAnswer last;
  for (int i = 0; i < 30; ++i) {
    std::string guess = "AAAA";
    guess[2] = static_cast<char>('A' + i / 26);
    guess[3] = static_cast<char>('A' + i % 26);
    if (guess == code) continue;
    last =
        http_from("127.0.0.13", port(), "POST", "/api/v1/lobbies/" + guess + "/join", "", guesser);
    if (last.status == 404) ++not_found;
  }
  EXPECT_EQ(not_found, 20) << "20 wrong guesses, then 429";
  EXPECT_EQ(last.status, 429);
  EXPECT_GE(std::stoi(last.header("Retry-After")), 1);
  // Spent for that address, and for that user from anywhere, even with the right code.
  EXPECT_EQ(
      http_from("127.0.0.13", port(), "POST", "/api/v1/lobbies/" + code + "/join", "", guesser)
          .status,
      429);
  EXPECT_EQ(http_from("127.0.0.13", port(), "GET", "/api/v1/lobbies/" + code).status, 429);
  EXPECT_EQ(
      http_from("127.0.0.14", port(), "POST", "/api/v1/lobbies/" + code + "/join", "", guesser)
          .status,
      429);
  const std::string friend_token = user("127.0.0.15", "Friend");
  EXPECT_EQ(
      http_from("127.0.0.15", port(), "POST", "/api/v1/lobbies/" + code + "/join", "", friend_token)
          .status,
      200);
  expect_unharmed();
}

// Budgets per address and per user answer 429 with Retry-After: users, lobbies, game calls.
TEST_F(Attack, FloodsOfUsersLobbiesAndCallsAreBudgeted) {
  start();
  int created = 0;
  RawAnswer last;
  std::string token;
  for (int i = 0; i < 25; ++i) {
    last = http_from("127.0.0.16", port(), "POST", "/api/v1/users", R"({"display_name":"Flood"})");
    if (last.status == 201) {
      ++created;
      token = std::string(json::parse(last.body).at("token").as_string());
    }
  }
  EXPECT_EQ(created, 20);
  EXPECT_EQ(last.status, 429);
  EXPECT_FALSE(last.header("Retry-After").empty());

  int lobbies = 0;
  for (int i = 0; i < 15; ++i) {
    last = http_from("127.0.0.17", port(), "POST", "/api/v1/lobbies", "", token);
    if (last.status == 201) ++lobbies;
  }
  EXPECT_EQ(lobbies, 10);
  EXPECT_EQ(last.status, 429);

  // One user's game calls (here on a game it does not play, so that nothing changes): a flood
  // is cut off, from any address.
  int limited = 0;
  for (int i = 0; i < 60; ++i) {
    const RawAnswer r =
        http_from("127.0.0.19", port(), "POST",
                  "/api/v1/games/" + std::string(kCanary) + "/end_round", "", token);
    if (r.status == 429) ++limited;
    EXPECT_NE(r.status, 200) << "not a player of the canary: never a change";
  }
  EXPECT_GT(limited, 0);
  expect_unharmed();
}

// Numbers and quirks from outside: range-checked deadlines, unknown methods, duplicate keys
// and lengths, names that would change how the page shows text.
TEST_F(Attack, OutsideNumbersAndQuirksAreRefused) {
  start();
  const std::string far =
      testing::game_json("g_far", {{1, "u_a", "A", 0, 0}, {2, "u_b", "B", 1, 0}}, INT64_MAX);
  EXPECT_EQ(cluster.request(node, "POST", "/api/v1/games", far, ClusterHarness::kAdminToken).status,
            400);
  // A deadline in the year 9000 is valid, and the round does not end at once.
  const std::string late = testing::game_json(
      "g_late", {{1, "u_a", "A", 0, 0}, {2, "u_b", "B", 1, 0}}, 221'845'392'000'000);
  ASSERT_EQ(
      cluster.request(node, "POST", "/api/v1/games", late, ClusterHarness::kAdminToken).status,
      201);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(json::parse(cluster.request(node, "GET", "/api/v1/games/g_late").body).at("round"), 1);

  const auto raw = [&](const std::string& bytes) {
    RawSocket s("127.0.0.20", port());
    s.send_all(bytes);
    return testing::parse_answer(s.read_until_close(5s));
  };
  EXPECT_EQ(raw("FOO /readyz HTTP/1.1\r\nHost: n\r\n\r\n").status, 501);
  EXPECT_EQ(raw("PUT /readyz HTTP/1.1\r\nHost: n\r\nContent-Length: 0\r\n\r\n").status, 405);
  EXPECT_EQ(raw("POST /api/v1/users HTTP/1.1\r\nHost: n\r\nContent-Length: 21\r\n"
                "Content-Length: 21\r\n\r\n{\"display_name\":\"A\"}")
                .status,
            400);
  EXPECT_EQ(http_from("127.0.0.20", port(), "POST", "/api/v1/users",
                      R"({"display_name":"A","display_name":"B"})")
                .status,
            400);
  EXPECT_EQ(http_from("127.0.0.20", port(), "POST", "/api/v1/users",
                      "{\"display_name\":\"abc\xe2\x80\xae"
                      "cba\"}")
                .status,
            400);
  expect_unharmed();
}

// The cluster port's slots were shared by handshakes and members: ~1,000 connects/s from an
// outsider kept a restarted node from rejoining for as long as the flood lasted. Strangers now
// have slots of their own (the oldest makes room for the next), so a member's handshake gets
// through in the middle of a flood that holds hundreds of connections open and opens more.
TEST_F(Attack, AFloodAtTheClusterPortDoesNotKeepARestartedNodeOut) {
  start();
  const std::size_t peer = cluster.start(testing::NodeSpec("peer"));
  ASSERT_TRUE(
      ClusterHarness::eventually([&] { return cluster.status_seen_by(node, "peer") == "up"; }));
  const std::uint64_t before = cluster.incarnation_seen_by(node, "peer");

  // Three connects a millisecond, sending nothing or garbage, each held until the node closes
  // it (or for 4 s, past the 3 s handshake time-out), from 20 addresses so that no one address
  // runs out of local ports. Under the old rule (every slot shared, no stranger ever made room)
  // the 512 slots stayed full of strangers, each freed slot was taken again within a
  // millisecond, and the node could neither accept the restarted member nor dial it.
  std::atomic<int> connects{0};
  // Stopped and joined when it goes, also when an ASSERT below returns early.
  std::jthread flood([&](std::stop_token stop) {
    using Clock = std::chrono::steady_clock;
    std::deque<std::pair<Clock::time_point, std::unique_ptr<RawSocket>>> held;
    std::vector<pollfd> polled;
    auto next = Clock::now();
    for (int i = 0; !stop.stop_requested(); ++i) {
      next += 1ms;
      std::this_thread::sleep_until(next);
      for (int k = 0; k < 3; ++k) {
        auto s = std::make_unique<RawSocket>("127.0.0." + std::to_string(40 + (3 * i + k) % 20),
                                             cluster.cluster_port(node));
        if (!s->ok()) continue;
        ++connects;
        if (k == 1) s->send_all(std::string("\x00\x00\x10\x00garbage", 11));
        held.emplace_back(Clock::now(), std::move(s));
      }
      if (i % 10 != 0) continue;  // every 10 ms: let go of what the node closed
      polled.clear();
      for (const auto& h : held) polled.push_back({h.second->fd(), POLLRDHUP, 0});
      poll(polled.data(), polled.size(), 0);
      std::size_t at = 0;
      std::erase_if(held, [&](const auto& h) {
        const bool closed = (polled[at++].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
        return closed || Clock::now() - h.first > 4s;
      });
    }
  });
  const auto flood_started = std::chrono::steady_clock::now();
  ASSERT_TRUE(ClusterHarness::eventually([&] { return connects.load() > 3000; }));
  const auto flood_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - flood_started)
                            .count();
  const int connects_at_kill = connects.load();
  cluster.stop(peer, SIGKILL);
  cluster.restart(peer);
  const bool rejoined = ClusterHarness::eventually(
      [&] {
        return cluster.status_seen_by(node, "peer") == "up" &&
               cluster.incarnation_seen_by(node, "peer") > before &&
               cluster.status_seen_by(peer, "target") == "up";
      },
      20s);
  const int connects_while_rejoining = connects.load() - connects_at_kill;
  flood.request_stop();
  flood.join();
  EXPECT_TRUE(rejoined) << "the restarted node was kept out by the flood";
  // The flood went on through the restart (the member is back within tens of milliseconds, at
  // three connects a millisecond).
  EXPECT_GT(connects_while_rejoining, 10)
      << "the flood did not go on while the node rejoined (3,000 connects took " << flood_ms
      << " ms)";
  // Strangers made room for each other; no connection was refused for want of a member's slot
  // (the old rule refused the member's own dials and handshakes there, so it got in only when a
  // batch of strangers timed out).
  EXPECT_GT(metric("minotaur_cluster_connections_refused_total{reason=\"unauthenticated\"}"), 0);
  EXPECT_EQ(metric("minotaur_cluster_connections_refused_total{reason=\"established\"}"), 0);
  expect_unharmed();
}

}  // namespace
}  // namespace minotaur
