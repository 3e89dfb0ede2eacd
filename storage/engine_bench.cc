// storage_engine_bench: a developer's driver (not a test) that measures, on this machine's disk,
// the two embedded engines docs/DESIGN.md ("Durability") weighed for `--data-dir`: SQLite in WAL
// mode through the project's own storage::DataDir, and LMDB with its default durable flags. The
// figures and the verdict are in docs/BENCHMARKS.md ("Storage engines for --data-dir").
//
// The workload is the store's group commit (handoff::StoreCore::take_batch): N live sessions,
// each batch rewrites K distinct sessions (sorted by key, as the replica hands them out) with a
// fresh value, dot and hybrid-clock stamp, plus the causal context (24 bytes a range). Both
// engines get the very same batches (one seeded generator), commit them back to back, and take
// turns round by round (SQLite, LMDB, fsync probe, SQLite, LMDB, ...) so that the machine's
// other work falls on both. See kHelp for what each figure means.
#include <fcntl.h>
#include <fmt/format.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "storage/data_dir.h"

namespace {

namespace fs = std::filesystem;
using minotaur::err;
using minotaur::Ok;
using minotaur::Result;
using minotaur::storage::Batch;

constexpr const char* kHelp =
    "Measures the two embedded engines considered for `minotaur node --data-dir` on the disk of\n"
    "the folder it writes in: SQLite in WAL mode, synchronous=FULL, through storage::DataDir\n"
    "(the node's own code), and LMDB with mdb_env_open's default durable flags (one write\n"
    "transaction a batch; mdb_txn_commit fsyncs the data, then the meta page). For every\n"
    "combination of --sessions, --value-bytes and --batch-keys it fills both engines with the\n"
    "sessions, then runs --rounds rounds; in each, SQLite and then LMDB commit the same\n"
    "--batches batches back to back (each batch: --batch-keys distinct sessions rewritten in\n"
    "place with values of 75-125 % of --value-bytes, plus the causal context of --ranges\n"
    "ranges under a fixed key), then the disk's floor is probed (4 KiB pwrite in place +\n"
    "fdatasync, --probe-samples times). Figures per engine: batches/s and keys/s over the time\n"
    "spent in commit, the range of batches/s over the rounds, LMDB's batches/s over SQLite's\n"
    "(the median of the rounds' ratios), commit latency p50/p99/max, and the bytes its files\n"
    "take on disk at the end (database + WAL/lock files, apparent size and allocated blocks)\n"
    "next to the live data (keys + values + 24 bytes of dot and stamp).\n"
    "Prints a Markdown table on stdout, progress on stderr. The folder is new, under --dir,\n"
    "and removed at the end unless --keep.";

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Nearest-rank percentile of unsorted samples.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return fmt::format("{} {} {}", one, five, fifteen);
}

struct DiskUsage {
  std::uint64_t apparent = 0;   // st_size
  std::uint64_t allocated = 0;  // st_blocks * 512
};

DiskUsage disk_usage(const std::string& dir) {
  DiskUsage u;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (e.is_regular_file() && ::stat(e.path().c_str(), &st) == 0) {
      u.apparent += static_cast<std::uint64_t>(st.st_size);
      u.allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  return u;
}

class Engine {
 public:
  virtual ~Engine() = default;
  virtual Result<Ok, std::string> commit(const Batch& batch) = 0;
};

// The node's own code path: one SQLite transaction a batch (storage/data_dir.h).
class SqliteEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>, std::string> open(const std::string& dir) {
    auto d = minotaur::storage::DataDir::open(dir, {"bench", "bench"});
    if (!d) return err(d.error());
    return std::unique_ptr<Engine>(new SqliteEngine(std::move(d).value()));
  }
  Result<Ok, std::string> commit(const Batch& batch) override { return dir_->commit(batch); }

 private:
  explicit SqliteEngine(std::unique_ptr<minotaur::storage::DataDir> dir) : dir_(std::move(dir)) {}
  std::unique_ptr<minotaur::storage::DataDir> dir_;
};

// LMDB holding what DataDir holds: an "entries" database (key -> 24 bytes of replica, counter
// and stamp, then the value) and a "meta" one with the context under a fixed key. Default flags:
// a commit writes the dirty pages, fdatasyncs, then writes the meta page and syncs it.
class LmdbEngine final : public Engine {
 public:
  static Result<std::unique_ptr<Engine>, std::string> open(const std::string& dir,
                                                           std::size_t map_bytes) {
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return err(fmt::format("lmdb: cannot create {}: {}", dir, std::strerror(errno)));
    }
    std::unique_ptr<LmdbEngine> e(new LmdbEngine());
    int rc = mdb_env_create(&e->env_);
    if (rc == 0) rc = mdb_env_set_mapsize(e->env_, map_bytes);
    if (rc == 0) rc = mdb_env_set_maxdbs(e->env_, 2);
    if (rc == 0) rc = mdb_env_open(e->env_, dir.c_str(), 0, 0600);
    MDB_txn* txn = nullptr;
    if (rc == 0) rc = mdb_txn_begin(e->env_, nullptr, 0, &txn);
    if (rc == 0) rc = mdb_dbi_open(txn, "entries", MDB_CREATE, &e->entries_);
    if (rc == 0) rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &e->meta_);
    if (rc == 0) {
      rc = mdb_txn_commit(txn);
    } else if (txn != nullptr) {
      mdb_txn_abort(txn);
    }
    if (rc != 0) return err(fmt::format("lmdb: cannot open {}: {}", dir, mdb_strerror(rc)));
    return std::unique_ptr<Engine>(std::move(e));
  }
  ~LmdbEngine() override {
    if (env_ != nullptr) mdb_env_close(env_);
  }

  Result<Ok, std::string> commit(const Batch& batch) override {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return err(fmt::format("lmdb: begin: {}", mdb_strerror(rc)));
    for (const minotaur::storage::StoredEntry& e : batch.puts) {
      MDB_val k{e.key.size(), const_cast<char*>(e.key.data())};
      MDB_val v{24 + e.value.size(), nullptr};
      // MDB_RESERVE: LMDB hands out the value's room in its page and the bytes go straight in.
      rc = mdb_put(txn, entries_, &k, &v, MDB_RESERVE);
      if (rc != 0) break;
      char* out = static_cast<char*>(v.mv_data);
      const std::uint64_t header[3] = {e.dot.replica, e.dot.counter, e.hlc};
      std::memcpy(out, header, sizeof header);
      std::memcpy(out + sizeof header, e.value.data(), e.value.size());
    }
    for (std::size_t i = 0; rc == 0 && i < batch.removes.size(); ++i) {
      MDB_val k{batch.removes[i].size(), const_cast<char*>(batch.removes[i].data())};
      rc = mdb_del(txn, entries_, &k, nullptr);
      if (rc == MDB_NOTFOUND) rc = 0;
    }
    if (rc == 0) {
      // The same 24 bytes a range as DataDir's blob (this layout is little-endian here).
      static_assert(sizeof(minotaur::crdt::DotRange) == 24);
      static constexpr char kContext[] = "context";
      MDB_val k{sizeof kContext - 1, const_cast<char*>(kContext)};
      MDB_val v{batch.context.size() * 24,
                const_cast<minotaur::crdt::DotRange*>(batch.context.data())};
      rc = mdb_put(txn, meta_, &k, &v, 0);
    }
    if (rc != 0) {
      mdb_txn_abort(txn);
      return err(fmt::format("lmdb: write: {}", mdb_strerror(rc)));
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return err(fmt::format("lmdb: commit: {}", mdb_strerror(rc)));
    return Ok{};
  }

 private:
  LmdbEngine() = default;
  MDB_env* env_ = nullptr;
  MDB_dbi entries_ = 0;
  MDB_dbi meta_ = 0;
};

// The disk's floor: one 4 KiB block rewritten in place and fdatasync'd, in a file beside the
// databases (preallocated, so no metadata changes).
class FsyncProbe {
 public:
  explicit FsyncProbe(const std::string& path) : block_(4096, 'x') {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ok_ = fd_ >= 0 && ::pwrite(fd_, block_.data(), block_.size(), 0) == 4096 && ::fsync(fd_) == 0;
  }
  ~FsyncProbe() {
    if (fd_ >= 0) ::close(fd_);
  }
  FsyncProbe(const FsyncProbe&) = delete;
  FsyncProbe& operator=(const FsyncProbe&) = delete;

  bool ok() const { return ok_; }
  // One sample in ms, or a negative number when the disk refused.
  double sample() {
    ++block_[0];
    const auto t0 = std::chrono::steady_clock::now();
    if (::pwrite(fd_, block_.data(), block_.size(), 0) != 4096 || ::fdatasync(fd_) != 0) return -1;
    return ms_since(t0);
  }

 private:
  std::string block_;
  int fd_ = -1;
  bool ok_ = false;
};

// The batches: deterministic for a seed, so both engines (and a re-run) see the same ones.
class Workload {
 public:
  Workload(std::uint64_t seed, std::size_t sessions, std::size_t value_bytes, std::size_t ranges)
      : rng_(seed), value_bytes_(value_bytes), pool_(65'536 + value_bytes * 2, '\0') {
    for (char& c : pool_) c = static_cast<char>(rng_() & 0xff);
    keys_.reserve(sessions);
    sizes_.resize(sessions);
    for (std::size_t i = 0; i < sessions; ++i) keys_.push_back(fmt::format("game:g_{}", i));
    // A handful of ranges, as the context of a node whose peers restarted a few times: the
    // first is this replica's own writes and grows with every put.
    for (std::uint64_t r = 0; r < std::max<std::size_t>(ranges, 1); ++r) {
      context_.push_back(minotaur::crdt::DotRange{r + 1, 1, 1000 * (r + 1)});
    }
  }

  // Every session once, in batches of `per_batch`: what the engines hold before the rounds.
  std::vector<Batch> fill(std::size_t per_batch) {
    std::vector<Batch> out;
    for (std::size_t at = 0; at < keys_.size(); at += per_batch) {
      std::vector<std::size_t> picks(std::min(per_batch, keys_.size() - at));
      std::iota(picks.begin(), picks.end(), at);
      out.push_back(make(picks));
    }
    return out;
  }

  // `count` batches of `keys` distinct sessions picked uniformly.
  std::vector<Batch> next(std::size_t count, std::size_t keys) {
    std::vector<std::size_t> all(keys_.size());
    std::iota(all.begin(), all.end(), 0);
    std::vector<Batch> out;
    for (std::size_t i = 0; i < count; ++i) {
      std::vector<std::size_t> picks;
      std::sample(all.begin(), all.end(), std::back_inserter(picks), keys, rng_);
      out.push_back(make(picks));
    }
    return out;
  }

  // Keys + values + dot and stamp of every session as last written: the live data.
  std::uint64_t live_bytes() const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < keys_.size(); ++i) n += keys_[i].size() + 24 + sizes_[i];
    return n;
  }

 private:
  Batch make(std::vector<std::size_t> picks) {
    std::sort(picks.begin(), picks.end(),
              [&](std::size_t a, std::size_t b) { return keys_[a] < keys_[b]; });
    Batch b;
    b.seq = ++seq_;
    for (std::size_t i : picks) {
      const std::size_t lo = value_bytes_ * 3 / 4;
      const std::size_t size = lo + rng_() % (value_bytes_ / 2 + 1);
      std::string value = pool_.substr(rng_() % (pool_.size() - size), size);
      ++counter_;
      std::memcpy(value.data(), &counter_, std::min(size, sizeof counter_));
      b.puts.push_back({keys_[i], std::move(value), {1, counter_}, 1'000'000 + counter_});
      sizes_[i] = size;
    }
    context_[0].last = std::max(context_[0].last, counter_);
    b.context = context_;
    return b;
  }

  std::mt19937_64 rng_;
  std::size_t value_bytes_;
  std::string pool_;
  std::vector<std::string> keys_;
  std::vector<std::size_t> sizes_;
  std::vector<minotaur::crdt::DotRange> context_;
  std::uint64_t seq_ = 0;
  std::uint64_t counter_ = 1000;
};

struct Figures {
  std::vector<double> latencies_ms;
  std::vector<double> round_batches_per_s;
  double commit_ms = 0;
  std::uint64_t keys = 0;
};

Result<Ok, std::string> run(Engine& engine, const std::vector<Batch>& batches, Figures* f) {
  double round_ms = 0;
  for (const Batch& b : batches) {
    const auto t0 = std::chrono::steady_clock::now();
    if (auto ok = engine.commit(b); !ok) return ok;
    const double ms = ms_since(t0);
    round_ms += ms;
    if (f != nullptr) {
      f->latencies_ms.push_back(ms);
      f->keys += b.puts.size();
    }
  }
  if (f != nullptr) {
    f->commit_ms += round_ms;
    f->round_batches_per_s.push_back(static_cast<double>(batches.size()) * 1000 / round_ms);
  }
  return Ok{};
}

std::string mib(std::uint64_t bytes) {
  return fmt::format("{:.1f}", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

struct Options {
  std::vector<std::size_t> sessions{1000, 10'000};
  std::vector<std::size_t> value_bytes{500, 4096};
  std::vector<std::size_t> batch_keys{1, 20, 200};
  // Short rounds: this machine's disk switches between fast and slow flushes within seconds,
  // and a switch should fall on both engines alike.
  std::size_t rounds = 20;
  std::size_t batches = 12;
  std::size_t ranges = 4;
  std::size_t probe_samples = 5;
  std::uint64_t seed = 1;
  std::string dir = "/tmp";
  bool keep = false;
};

// One combination: fill both engines, run the rounds, print a row for each engine.
Result<Ok, std::string> combination(const Options& o, const std::string& root, std::size_t sessions,
                                    std::size_t value_bytes, std::size_t keys,
                                    std::vector<double>* all_probes) {
  const std::string dir = fmt::format("{}/{}-{}-{}", root, sessions, value_bytes, keys);
  fs::create_directory(dir);
  // Room for every session's newest copy and superseded ones, many times over.
  const std::size_t map_bytes =
      std::max<std::size_t>(std::size_t{1} << 30, sessions * (value_bytes * 2 + 4096) * 16);
  auto sqlite = SqliteEngine::open(dir + "/sqlite");
  if (!sqlite) return err(sqlite.error());
  auto lmdb = LmdbEngine::open(dir + "/lmdb", map_bytes);
  if (!lmdb) return err(lmdb.error());
  FsyncProbe probe(dir + "/fsync-probe");
  if (!probe.ok()) return err(fmt::format("fsync probe: {}", std::strerror(errno)));
  Engine* engines[2] = {sqlite.value().get(), lmdb.value().get()};

  Workload w(o.seed, sessions, value_bytes, o.ranges);
  const std::vector<Batch> fill = w.fill(1000);
  for (Engine* e : engines) {
    if (auto ok = run(*e, fill, nullptr); !ok) return ok;
  }
  Figures figures[2];
  std::vector<double> probes;
  for (std::size_t r = 0; r < o.rounds; ++r) {
    const std::vector<Batch> batches = w.next(o.batches, keys);
    for (int i = 0; i < 2; ++i) {
      if (auto ok = run(*engines[i], batches, &figures[i]); !ok) return ok;
    }
    for (std::size_t i = 0; i < o.probe_samples; ++i) {
      const double ms = probe.sample();
      if (ms < 0) return err(fmt::format("fsync probe: {}", std::strerror(errno)));
      probes.push_back(ms);
    }
  }
  all_probes->insert(all_probes->end(), probes.begin(), probes.end());

  const std::string live = mib(w.live_bytes());
  const std::string floor =
      fmt::format("{:.2f} / {:.2f}", percentile(probes, 0.5), percentile(probes, 0.99));
  const char* names[2] = {"SQLite WAL", "LMDB"};
  // Paired: LMDB's rate over SQLite's in each round, the median of those. Steadier than the
  // ratio of the totals when the disk's speed changes during the run.
  std::vector<double> ratios;
  for (std::size_t r = 0; r < o.rounds; ++r) {
    ratios.push_back(figures[1].round_batches_per_s[r] / figures[0].round_batches_per_s[r]);
  }
  const std::string ratio = fmt::format("{:.2f}", percentile(ratios, 0.5));
  for (int i = 0; i < 2; ++i) {
    const Figures& f = figures[i];
    // While the engine is open: what a running node holds (SQLite's WAL goes at close).
    const DiskUsage u = disk_usage(dir + (i == 0 ? "/sqlite" : "/lmdb"));
    const auto [lo, hi] =
        std::minmax_element(f.round_batches_per_s.begin(), f.round_batches_per_s.end());
    std::printf(
        "| %zu | %zu | %zu | %s | %.0f | %.0f–%.0f | %s | %.0f | %.2f | %.2f | %.2f | %s (%s) | "
        "%s | %s |\n",
        sessions, value_bytes, keys, names[i],
        static_cast<double>(f.latencies_ms.size()) * 1000 / f.commit_ms, *lo, *hi,
        i == 0 ? "" : ratio.c_str(), static_cast<double>(f.keys) * 1000 / f.commit_ms,
        percentile(f.latencies_ms, 0.5), percentile(f.latencies_ms, 0.99),
        percentile(f.latencies_ms, 1.0), mib(u.apparent).c_str(), mib(u.allocated).c_str(),
        live.c_str(), floor.c_str());
  }
  std::fflush(stdout);
  sqlite.value().reset();
  lmdb.value().reset();
  if (!o.keep) fs::remove_all(dir);  // bounds the disk the run takes
  return Ok{};
}

int bench(const Options& o, const std::string& root) {
  const auto started = std::chrono::steady_clock::now();
  std::printf(
      "| sessions | value B | keys/batch | engine | batches/s | per round | LMDB ÷ SQLite | keys/s "
      "| "
      "p50 ms | p99 ms | max ms | disk MiB (alloc) | live MiB | fsync p50 / p99 ms |\n"
      "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::vector<double> all_probes;
  for (std::size_t sessions : o.sessions) {
    for (std::size_t value_bytes : o.value_bytes) {
      for (std::size_t keys : o.batch_keys) {
        if (keys > sessions) {
          std::fprintf(stderr, "engine bench: skipping %zu keys a batch of %zu sessions\n", keys,
                       sessions);
          continue;
        }
        if (auto ok = combination(o, root, sessions, value_bytes, keys, &all_probes); !ok) {
          std::fprintf(stderr, "engine bench: %s\n", ok.error().c_str());
          return 1;
        }
        std::fprintf(stderr, "engine bench: %zu sessions, %zu B, %zu keys a batch done (%.1f s)\n",
                     sessions, value_bytes, keys, ms_since(started) / 1000);
      }
    }
  }
  std::printf("\nfsync floor over the whole run (%zu samples): p50 %.2f ms, p99 %.2f ms\n",
              all_probes.size(), percentile(all_probes, 0.5), percentile(all_probes, 0.99));
  std::printf("took %.1f s; load average (1, 5, 15 min) at the end: %s\n", ms_since(started) / 1000,
              load_average().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{kHelp, "storage_engine_bench"};
  const auto sizes = [](std::size_t lo, std::size_t hi) { return CLI::Range(lo, hi); };
  app.add_option("--sessions", o.sessions, "live sessions (comma-separated list)")
      ->delimiter(',')
      ->check(sizes(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--value-bytes", o.value_bytes, "mean value size in bytes (list)")
      ->delimiter(',')
      ->check(sizes(16, 1 << 20))
      ->capture_default_str();
  app.add_option("--batch-keys", o.batch_keys, "sessions rewritten per batch (list)")
      ->delimiter(',')
      ->check(sizes(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--rounds", o.rounds, "rounds per combination; engines take turns in each")
      ->check(sizes(1, 1000))
      ->capture_default_str();
  app.add_option("--batches", o.batches, "batches per engine per round")
      ->check(sizes(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--ranges", o.ranges, "ranges in the causal context (24 bytes each)")
      ->check(sizes(1, 100'000))
      ->capture_default_str();
  app.add_option("--probe-samples", o.probe_samples, "fsync probe samples per round")
      ->check(sizes(1, 100'000))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the workload")->capture_default_str();
  app.add_option("--dir", o.dir, "where the bench makes its folder (the disk measured)")
      ->check(CLI::ExistingDirectory)
      ->capture_default_str();
  app.add_flag("--keep", o.keep, "keep the folder and every combination's files");
  CLI11_PARSE(app, argc, argv);

  std::string tmpl = o.dir + "/minotaur-engine-bench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "engine bench: cannot make a folder in %s: %s\n", o.dir.c_str(),
                 std::strerror(errno));
    return 1;
  }
  struct statfs sf {};
  const bool tmpfs = ::statfs(tmpl.c_str(), &sf) == 0 && sf.f_type == 0x01021994;
  if (tmpfs) {
    std::fprintf(stderr,
                 "engine bench: warning: %s is on tmpfs, where fsync is free; give --dir a "
                 "folder on a real disk\n",
                 tmpl.c_str());
  }
  std::printf(
      "storage_engine_bench: folder %s, seed %llu, %zu rounds x %zu batches per engine per "
      "combination, %zu context ranges; load average (1, 5, 15 min) at the start: %s\n\n",
      tmpl.c_str(), static_cast<unsigned long long>(o.seed), o.rounds, o.batches, o.ranges,
      load_average().c_str());
  const int rc = bench(o, tmpl);
  if (!o.keep) fs::remove_all(tmpl);
  return rc;
}
