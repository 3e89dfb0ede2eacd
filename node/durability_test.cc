// Durable sessions: a whole cluster stops — gracefully, or killed at once — and comes back with
// every game (docs/SPEC.md section 4, "Durability"). Real `minotaur node` processes with real
// data dirs on this machine's disk, stopped with SIGTERM or SIGKILL and started again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "sessions/placement.h"
#include "storage/data_dir.h"
#include "testing/cluster_harness.h"

namespace minotaur {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::ClusterHarness;
using testing::NodeSpec;

const std::string kAdmin = ClusterHarness::kAdminToken;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A folder for the test's data dirs, removed at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/minotaur-durability-XXXXXX";
    path_ = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

NodeSpec durable(const std::string& name, const TempDir& dir, const std::string& replication) {
  return NodeSpec(name).args({"--data-dir", dir.path() + "/" + name, "--replication", replication});
}

std::string game_json(const std::string& id, const std::string& u1, const std::string& u2) {
  return testing::game_json(id, {{1, u1, "P1", 0, 0}, {2, u2, "P2", 1, 0}});
}

struct Acked {
  std::int64_t version = 0;
  std::int64_t epoch = 0;
};

// Creates `games` games through `via` and changes each a few times; what each last change
// acknowledged.
std::map<std::string, Acked> play(ClusterHarness& c, std::size_t via, const std::string& prefix,
                                  int games) {
  std::map<std::string, Acked> acked;
  const auto [u1, t1] = c.new_user(via, "P1");
  const auto [u2, t2] = c.new_user(via, "P2");
  for (int i = 0; i < games; ++i) {
    const std::string id = prefix + std::to_string(i);
    const auto created = c.request(via, "POST", "/api/v1/games", game_json(id, u1, u2), kAdmin);
    EXPECT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(c.request(via, "POST", "/api/v1/games/" + id + "/actions",
                        R"({"type":"attack","target_player_id":2})", t1)
                  .status,
              200);
    EXPECT_EQ(c.request(via, "POST", "/api/v1/games/" + id + "/end_round", "", kAdmin).status, 200);
    const auto m = c.request(via, "POST", "/api/v1/games/" + id + "/actions",
                             R"({"type":"move","vector":{"q":0,"r":1}})", t2);
    EXPECT_EQ(m.status, 200) << m.body;
    if (m.status == 200) {
      acked[id] = Acked{m.json().at("version").as_int64(), m.json().at("epoch").as_int64()};
    }
  }
  return acked;
}

// Every acknowledged change is there (the version did not go back) and every epoch grew.
void expect_every_game_back(ClusterHarness& c, std::size_t via,
                            const std::map<std::string, Acked>& acked) {
  for (const auto& [id, a] : acked) {
    json::value g;
    ASSERT_TRUE(ClusterHarness::eventually(
        [&] {
          const auto r = c.request(via, "GET", "/api/v1/games/" + id);
          if (r.status != 200) return false;
          g = r.json();
          return true;
        },
        20s))
        << id << " did not come back";
    EXPECT_GE(g.at("version").as_int64(), a.version) << id << ": an acknowledged change is lost";
    EXPECT_GT(g.at("epoch").as_int64(), a.epoch) << id << ": started again at an old epoch";
  }
}

void wait_for_members(ClusterHarness& c, const std::vector<std::size_t>& nodes) {
  ASSERT_TRUE(ClusterHarness::eventually([&] {
    for (auto n : nodes) {
      if (c.members_seen_by(n).size() != nodes.size()) return false;
    }
    return true;
  }));
}

// Three nodes n1, n2, n3 (indices 0, 1, 2) with data dirs under `dir`, joined.
void start_three(ClusterHarness& c, const TempDir& dir, const std::string& replication) {
  for (const char* name : {"n1", "n2", "n3"}) c.start(durable(name, dir, replication));
  wait_for_members(c, {0, 1, 2});
}

// The seed's single-host deployment: one node, stopped for an upgrade and started again.
TEST(Durability, AOneNodeClusterSurvivesItsOwnRestart) {
  TempDir dir;
  ClusterHarness c;
  const auto n1 = c.start(durable("n1", dir, "async"));
  const auto acked = play(c, n1, "g_one", 5);
  const auto lobby = c.request(n1, "POST", "/api/v1/lobbies", "", c.new_user(n1, "Host").second);
  ASSERT_EQ(lobby.status, 201) << lobby.body;
  const std::string code(lobby.json().at("join_code").as_string());
  // A round whose deadline passes while the cluster is down ends once, at start.
  const auto [u1, t1] = c.new_user(n1, "T1");
  const auto [u2, t2] = c.new_user(n1, "T2");
  const std::int64_t deadline = wall_ms() + 1'000;
  ASSERT_EQ(
      c.request(n1, "POST", "/api/v1/games",
                testing::game_json("g_timer", {{1, u1, "T1", 0, 0}, {2, u2, "T2", 1, 0}}, deadline),
                kAdmin)
          .status,
      201);
  const std::int64_t round =
      c.request(n1, "GET", "/api/v1/games/g_timer").json().at("round").as_int64();

  const auto stopping = std::chrono::steady_clock::now();
  c.stop(n1, SIGTERM);
  EXPECT_EQ(c.exit_code(n1), 0);
  // The last node of a cluster has nobody to hand its games to: it writes them to the disk and
  // exits, rather than wait for the hand-off bound.
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 8s) << c.log(n1);

  std::this_thread::sleep_until(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(deadline + 500)));
  c.restart(n1);
  expect_every_game_back(c, n1, acked);
  EXPECT_EQ(c.request(n1, "GET", "/api/v1/lobbies/" + code).status, 200);
  const auto round_now = [&] {
    return c.request(n1, "GET", "/api/v1/games/g_timer").json().at("round").as_int64();
  };
  EXPECT_TRUE(ClusterHarness::eventually([&] { return round_now() == round + 1; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(round_now(), round + 1);  // once, not once per round time missed
  EXPECT_NE(c.log(n1).find("stored session(s) loaded"), std::string::npos);
}

TEST(Durability, AWholeAsyncClusterStoppedAtOnceComesBackWithEveryGame) {
  TempDir dir;
  ClusterHarness c;
  start_three(c, dir, "async");
  const std::size_t n1 = 0, n2 = 1, n3 = 2;
  const auto acked = play(c, n1, "g_all", 12);

  const auto stopping = std::chrono::steady_clock::now();
  c.stop_all(SIGTERM);
  for (auto n : {n1, n2, n3}) EXPECT_EQ(c.exit_code(n), 0) << c.log(n);
  // Nobody waits for peers that are leaving too (the hand-off bound is 20 s).
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 10s);

  c.restart({n1, n2, n3});
  wait_for_members(c, {n1, n2, n3});
  expect_every_game_back(c, n2, acked);
}

// Ctrl-C in the terminal of `minotaur local` sends SIGINT to local and to every node (one
// process group), and local then sends each node SIGTERM: a node that drained before that
// SIGTERM arrives gets it while it exits, and must still exit 0, its games on the disk.
TEST(Durability, ASecondStopSignalWhileTheNodeExitsDoesNotKillIt) {
  TempDir dir;
  ClusterHarness c;
  const auto n1 = c.start(durable("n1", dir, "async"));
  const auto acked = play(c, n1, "g_twice", 3);
  ASSERT_EQ(kill(c.pid(n1), SIGINT), 0);
  // The drain of a node alone takes milliseconds, and its exit after it a few more: the SIGTERM
  // comes as soon as the log says it exits (polled every millisecond, not reaped meanwhile).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (c.log(n1).find("; exiting") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << c.log(n1);
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(kill(c.pid(n1), SIGTERM), 0);
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.exited(n1); }, 10s));
  EXPECT_EQ(c.exit_code(n1), 0) << "a negative code is the signal that killed it\n" << c.log(n1);

  c.restart(n1);
  expect_every_game_back(c, n1, acked);
}

TEST(Durability, ASyncClusterKilledAtOnceLosesNothingAcknowledged) {
  TempDir dir;
  ClusterHarness c;
  start_three(c, dir, "sync");
  const std::size_t n1 = 0, n2 = 1, n3 = 2;
  const auto acked = play(c, n2, "g_kill", 12);

  c.stop_all(SIGKILL);  // a power cut: nothing gets to run after the last acknowledgement

  c.restart({n1, n2, n3});
  wait_for_members(c, {n1, n2, n3});
  expect_every_game_back(c, n3, acked);
}

// Nodes come back one at a time: each game is started by one node, once, from the newest state.
// A node whose seeds are all down waits for them (it does not serve alone); two nodes back form
// the cluster and serve the games they held, and a game held by the node not yet back waits for
// it (its disk has the newest state) rather than start from an older copy.
TEST(Durability, NodesComingBackOneAtATimeStartEachGameOnceFromItsNewestState) {
  TempDir dir;
  ClusterHarness c;
  start_three(c, dir, "sync");
  const std::size_t n1 = 0, n2 = 1, n3 = 2;
  const auto acked = play(c, n1, "g_one_by_one", 9);
  c.stop_all(SIGKILL);

  c.restart({n1, n2});
  std::string held_by_n1, held_by_n3;
  for (const auto& [id, a] : acked) {
    const std::string owner = sessions::owner_of(sessions::game_key(id), {"n1", "n2", "n3"});
    if (owner == "n1") held_by_n1 = id;
    if (owner == "n3") held_by_n3 = id;
  }
  ASSERT_FALSE(held_by_n1.empty());
  ASSERT_FALSE(held_by_n3.empty());
  EXPECT_TRUE(ClusterHarness::eventually(
      [&] { return c.request(n2, "GET", "/api/v1/games/" + held_by_n1).status == 200; }, 20s));
  // Not started from n1's or n2's copy while n3, its holder, is away.
  const auto waiting = c.request(n1, "GET", "/api/v1/games/" + held_by_n3);
  EXPECT_EQ(waiting.status, 503) << waiting.body;

  c.restart(n3);
  wait_for_members(c, {n1, n2, n3});
  expect_every_game_back(c, n1, acked);
  // Once: no game was picked up from the store by two nodes.
  std::int64_t picked = 0;
  for (auto n : {n1, n2, n3}) {
    const std::string metrics = c.request(n, "GET", "/metrics").body;
    const std::string name = "\nminotaur_picked_up_total ";
    const auto at = metrics.find(name);
    ASSERT_NE(at, std::string::npos);
    picked += std::stoll(metrics.substr(at + name.size()));
  }
  EXPECT_EQ(picked, static_cast<std::int64_t>(acked.size()));
}

// The data dir does not grow without bound: sessions that are dropped (lobbies past their
// retention here; concluded games the same way) leave the disk, and the space they took is
// reused. A day of lobbies, each kept for its retention and dropped, compressed into seconds.
TEST(Durability, DroppedSessionsLeaveTheDisk) {
  TempDir dir;
  ClusterHarness c;
  const std::string data = dir.path() + "/n1";
  const auto n1 =
      c.start(NodeSpec("n1").args({"--data-dir", data, "--lobby-retention-ms", "1500"}));
  const auto disk_bytes = [&] {
    const std::string metrics = c.request(n1, "GET", "/metrics").body;
    const std::string name = "\nminotaur_store_disk_bytes ";
    const auto at = metrics.find(name);
    return at == std::string::npos ? 0ull : std::stoull(metrics.substr(at + name.size()));
  };
  constexpr int kWaves = 6;
  constexpr int kLobbiesPerWave = 200;
  const std::uint64_t empty = disk_bytes();
  for (int wave = 0; wave < kWaves; ++wave) {
    for (int i = 0; i < kLobbiesPerWave; ++i) {
      const auto token = c.new_user(n1, "Host").second;
      ASSERT_EQ(c.request(n1, "POST", "/api/v1/lobbies", "", token).status, 201);
    }
    std::this_thread::sleep_for(200ms);  // a commit interval or more: on the disk now
    const std::uint64_t bytes = disk_bytes();
    // A measurement, not a bound: the WAL grows until SQLite's automatic checkpoint (1,000
    // pages, about 4 MB) and is then written again from its start.
    std::printf(
        "wave %d: %d live lobbies, %llu bytes in the database and its WAL (%llu more "
        "than empty)\n",
        wave, kLobbiesPerWave, static_cast<unsigned long long>(bytes),
        static_cast<unsigned long long>(bytes - empty));
    // Every lobby of this wave is dropped before the next wave.
    ASSERT_TRUE(ClusterHarness::eventually(
        [&] {
          const std::string metrics = c.request(n1, "GET", "/metrics").body;
          return metrics.find("\nminotaur_lobbies_dropped_total " +
                              std::to_string((wave + 1) * kLobbiesPerWave) + "\n") !=
                 std::string::npos;
        },
        10s));
  }
  c.stop(n1, SIGTERM);
  ASSERT_EQ(c.exit_code(n1), 0);
  auto opened = storage::DataDir::open(data, {"n1", storage::cluster_fingerprint(c.secret())});
  ASSERT_TRUE(opened) << opened.error();
  auto snapshot = opened.value()->load();
  ASSERT_TRUE(snapshot) << snapshot.error();
  EXPECT_TRUE(snapshot.value().entries.empty())
      << snapshot.value().entries.size() << " dropped sessions are still on the disk";
  // A graceful stop checkpoints the WAL into the database and removes it: what is left holds
  // no session, only pages SQLite reuses for the next ones.
  std::printf("after %d waves of %d lobbies, all dropped, and a stop: %llu bytes on disk\n", kWaves,
              kLobbiesPerWave, static_cast<unsigned long long>(opened.value()->bytes_on_disk()));
}

TEST(Durability, TwoNodesCannotShareADataDir) {
  TempDir dir;
  ClusterHarness c;
  c.start(NodeSpec("n1").args({"--data-dir", dir.path() + "/shared"}));
  const auto n2 = c.start(NodeSpec("n1b").args({"--data-dir", dir.path() + "/shared"}).no_wait());
  ASSERT_TRUE(ClusterHarness::eventually([&] { return c.exited(n2); }));
  EXPECT_EQ(c.exit_code(n2), 2);
  EXPECT_NE(c.log(n2).find("in use by another running node"), std::string::npos) << c.log(n2);
}

// A kill in the middle of a commit: the last batch's frames in the WAL are torn (cut here, at
// the WAL's last byte, after the kill). The node starts again, drops that batch alone, and
// serves every batch before it.
TEST(Durability, ATornLastBatchIsDroppedAtStartAndTheOnesBeforeItServed) {
  TempDir dir;
  ClusterHarness c;
  const auto n1 = c.start(durable("n1", dir, "async"));
  const auto acked = play(c, n1, "g_torn", 3);
  const auto [u1, t1] = c.new_user(n1, "P1");
  const auto [u2, t2] = c.new_user(n1, "P2");
  ASSERT_EQ(c.request(n1, "POST", "/api/v1/games", game_json("g_last", u1, u2), kAdmin).status,
            201);
  // Well past the commit interval (100 ms): everything so far is in earlier batches.
  std::this_thread::sleep_for(500ms);
  const std::int64_t before =
      c.request(n1, "GET", "/api/v1/games/g_last").json().at("version").as_int64();
  const auto last = c.request(n1, "POST", "/api/v1/games/g_last/actions",
                              R"({"type":"attack","target_player_id":2})", t1);
  ASSERT_EQ(last.status, 200) << last.body;
  ASSERT_GT(last.json().at("version").as_int64(), before);
  std::this_thread::sleep_for(500ms);  // that change alone is the last batch
  c.stop(n1, SIGKILL);

  const fs::path wal = fs::path(dir.path()) / "n1" / "store.db-wal";
  ASSERT_TRUE(fs::exists(wal)) << "a killed node leaves its WAL";
  fs::resize_file(wal, fs::file_size(wal) - 1);

  c.restart(n1);
  expect_every_game_back(c, n1, acked);
  const auto g = c.request(n1, "GET", "/api/v1/games/g_last");
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(g.json().at("version").as_int64(), before)
      << "the torn batch held only the last change; the one before it is kept";
}

// A disk that fills up at run time: the node refuses changes with 503 storage_unavailable (and
// /readyz 503) instead of acknowledging what it cannot keep; once there is room again it takes
// changes, and a restart finds every acknowledged one. Needs root, for a tiny tmpfs of its own.
TEST(Durability, AFullDiskRefusesChangesAndLosesNothingAcknowledged) {
  TempDir dir;
  const std::string mnt = dir.path() + "/tiny";
  fs::create_directory(mnt);
  if (::geteuid() != 0 || ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "needs root to mount a small tmpfs";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};

  ClusterHarness c;
  const auto n1 = c.start(NodeSpec("n1").args(
      {"--data-dir", mnt + "/n1", "--replication", "async", "--commit-interval-ms", "20"}));
  auto acked = play(c, n1, "g_full", 3);
  // Fill the disk.
  {
    std::ofstream filler(mnt + "/filler", std::ios::binary);
    const std::string block(4096, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    }
  }
  const auto [u1, t1] = c.new_user(n1, "P1");
  (void)u1;
  // Changes go on until a batch fails; from then on they are refused.
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    const std::string id = "g_fill" + std::to_string(i);
    const auto created = c.request(n1, "POST", "/api/v1/games",
                                   game_json(id, c.new_user(n1, "A").first, u1), kAdmin);
    if (created.status == 201) {
      acked[id] =
          Acked{created.json().at("version").as_int64(), created.json().at("epoch").as_int64()};
    } else {
      EXPECT_EQ(created.status, 503) << created.body;
      EXPECT_NE(created.body.find("storage_unavailable"), std::string::npos) << created.body;
      refused = true;
    }
    std::this_thread::sleep_for(30ms);
  }
  ASSERT_TRUE(refused) << "the node never noticed its disk was full";
  EXPECT_EQ(c.request(n1, "GET", "/readyz").status, 503);
  EXPECT_EQ(c.request(n1, "GET", "/api/v1/games/g_full0").status, 200);  // reads go on

  fs::remove(mnt + "/filler");
  ASSERT_TRUE(
      ClusterHarness::eventually([&] { return c.request(n1, "GET", "/readyz").status == 200; }));
  c.stop(n1, SIGTERM);
  EXPECT_EQ(c.exit_code(n1), 0);
  c.restart(n1);
  expect_every_game_back(c, n1, acked);
}

}  // namespace
}  // namespace minotaur
