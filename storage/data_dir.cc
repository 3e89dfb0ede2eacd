#include "storage/data_dir.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/hmac.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "base/assert.h"

namespace minotaur::storage {

namespace {

constexpr const char* kFormat = "1";  // the layout below; a newer layout gets a new number

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS entries (key BLOB PRIMARY KEY, value BLOB NOT NULL,"
    " replica INTEGER NOT NULL, counter INTEGER NOT NULL, hlc INTEGER NOT NULL) WITHOUT ROWID;";

// SQLite's integers are signed: unsigned 64-bit values are kept as their bit pattern.
sqlite3_int64 as_db(std::uint64_t v) {
  sqlite3_int64 out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}
std::uint64_t from_db(sqlite3_int64 v) {
  std::uint64_t out;
  std::memcpy(&out, &v, sizeof out);
  return out;
}

std::string blob(sqlite3_stmt* s, int column) {
  const void* p = sqlite3_column_blob(s, column);
  const int n = sqlite3_column_bytes(s, column);
  return p == nullptr ? std::string()
                      : std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

// The context as a blob: (replica, first, last) as three little-endian 64-bit numbers a range.
std::string encode_context(const std::vector<crdt::DotRange>& ranges) {
  std::string out;
  out.reserve(ranges.size() * 24);
  for (const crdt::DotRange& r : ranges) {
    for (std::uint64_t v : {r.replica, r.first, r.last}) {
      for (unsigned i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
  }
  return out;
}

Result<std::vector<crdt::DotRange>, std::string> decode_context(std::string_view bytes) {
  if (bytes.size() % 24 != 0) return err(std::string("the stored causal context is truncated"));
  std::vector<crdt::DotRange> out;
  for (std::size_t at = 0; at < bytes.size(); at += 24) {
    std::uint64_t v[3] = {0, 0, 0};
    for (std::size_t k = 0; k < 3; ++k) {
      for (std::size_t i = 0; i < 8; ++i) {
        v[k] |= std::uint64_t{static_cast<unsigned char>(bytes[at + 8 * k + i])} << (8 * i);
      }
    }
    const crdt::DotRange r{v[0], v[1], v[2]};
    if (r.replica == 0 || r.first == 0 || r.first > r.last || r.last > crdt::kMaxCounter) {
      return err(std::string("the stored causal context holds an invalid range"));
    }
    out.push_back(r);
  }
  return out;
}

std::string corrupt_hint(const std::string& path) {
  return fmt::format(
      "; move {} aside and start the node with an empty data dir (this node then starts from "
      "what its peers hold)",
      path);
}

}  // namespace

std::string cluster_fingerprint(const std::string& cluster_secret) {
  static constexpr std::string_view kLabel = "minotaur data dir cluster id";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), cluster_secret.data(), static_cast<int>(cluster_secret.size()),
       reinterpret_cast<const unsigned char*>(kLabel.data()), kLabel.size(), mac, &len);
  MINOTAUR_ASSERT(len >= 8);
  std::string out;
  for (unsigned int i = 0; i < 8; ++i) out += fmt::format("{:02x}", mac[i]);
  return out;
}

Result<std::unique_ptr<DataDir>, std::string> DataDir::open(const std::string& path,
                                                            const Identity& identity) {
  if (path.empty()) return err(std::string("--data-dir is empty: give a directory"));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT || ::mkdir(path.c_str(), 0700) != 0) {
      return err(fmt::format(
          "data dir {}: cannot create it ({}); create its parent directory, or give another "
          "--data-dir",
          path, std::strerror(errno)));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return err(fmt::format("data dir {} is not a directory; give a directory as --data-dir", path));
  }
  const std::string lock_path = path + "/LOCK";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return err(fmt::format(
        "data dir {}: cannot write in it ({}); make it writable by this user, or give another "
        "--data-dir",
        path, std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = {};
    (void)::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    return err(fmt::format(
        "data dir {} is in use by another running node (process {}); stop that node first, or "
        "give this one a data dir of its own",
        path, holder[0] != 0 ? holder : "unknown"));
  }
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    ::close(fd);
    return err(
        fmt::format("data dir {}: cannot write its LOCK file ({}); free some space or "
                    "give another --data-dir",
                    path, std::strerror(errno)));
  }
  std::unique_ptr<DataDir> dir(new DataDir(path, fd));
  if (auto ok = dir->init(identity); !ok) return err(std::move(ok).error());
  return dir;
}

DataDir::~DataDir() {
  for (sqlite3_stmt* s : {put_, remove_, put_meta_}) sqlite3_finalize(s);
  if (db_ != nullptr) sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string DataDir::error(const char* what) const {
  return fmt::format("data dir {}: {}: {}", path_, what,
                     db_ == nullptr ? "out of memory" : sqlite3_errmsg(db_));
}

Result<Ok, std::string> DataDir::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string m = message != nullptr ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return err(fmt::format("data dir {}: {}", path_, m));
  }
  return Ok{};
}

Result<Ok, std::string> DataDir::init(const Identity& identity) {
  const std::string file = path_ + "/store.db";
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    return err(error("cannot open store.db") + "; check its permissions and the free space");
  }
  sqlite3_extended_result_codes(db_, 1);
  // The WAL: readers never block the writer, a commit appends and fsyncs one file, and a torn
  // last transaction is recovered at the next open. FULL: fsync at every commit.
  sqlite3_stmt* mode = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &mode, nullptr) != SQLITE_OK ||
      sqlite3_step(mode) != SQLITE_ROW) {
    sqlite3_finalize(mode);
    return err(error("cannot read store.db") + corrupt_hint(path_));
  }
  sqlite3_finalize(mode);
  if (auto ok = exec("PRAGMA synchronous=FULL"); !ok) return ok;
  sqlite3_stmt* check = nullptr;
  std::string verdict;
  if (sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &check, nullptr) == SQLITE_OK &&
      sqlite3_step(check) == SQLITE_ROW) {
    verdict = reinterpret_cast<const char*>(sqlite3_column_text(check, 0));
  }
  sqlite3_finalize(check);
  if (verdict != "ok") {
    return err(fmt::format("data dir {}: store.db is corrupt ({}){}", path_,
                           verdict.empty() ? sqlite3_errmsg(db_) : verdict, corrupt_hint(path_)));
  }
  if (auto ok = exec(kSchema); !ok) return ok;

  auto prepare = [&](const char* sql, sqlite3_stmt** out) {
    return sqlite3_prepare_v2(db_, sql, -1, out, nullptr) == SQLITE_OK;
  };
  if (!prepare("INSERT OR REPLACE INTO entries (key, value, replica, counter, hlc) "
               "VALUES (?, ?, ?, ?, ?)",
               &put_) ||
      !prepare("DELETE FROM entries WHERE key = ?", &remove_) ||
      !prepare("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", &put_meta_)) {
    return err(error("cannot prepare its statements") + corrupt_hint(path_));
  }

  // What the directory says it is.
  std::map<std::string, std::string> meta;
  sqlite3_stmt* read = nullptr;
  if (!prepare("SELECT name, value FROM meta", &read)) return err(error("cannot read meta"));
  while (sqlite3_step(read) == SQLITE_ROW) meta[blob(read, 0)] = blob(read, 1);
  sqlite3_finalize(read);

  auto put_meta = [&](const std::string& name,
                      const std::string& value) -> Result<Ok, std::string> {
    sqlite3_reset(put_meta_);
    sqlite3_bind_text(put_meta_, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(put_meta_, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(put_meta_) != SQLITE_DONE) return err(error("cannot write meta"));
    return Ok{};
  };
  if (meta.empty()) {
    for (const auto& [k, v] : {std::pair<std::string, std::string>{"format", kFormat},
                               {"node", identity.node_name},
                               {"cluster", identity.cluster_id}}) {
      if (auto ok = put_meta(k, v); !ok) return ok;
    }
    return Ok{};
  }
  if (meta["format"] != kFormat) {
    return err(fmt::format(
        "data dir {} has layout {} and this build reads layout {}; start the build that wrote "
        "it, or give this node an empty data dir",
        path_, meta["format"], kFormat));
  }
  if (meta["node"] != identity.node_name) {
    return err(fmt::format(
        "data dir {} belongs to node {}, not {}; give each node its own data dir (or start "
        "node {} with it)",
        path_, meta["node"], identity.node_name, meta["node"]));
  }
  if (meta["cluster"] != identity.cluster_id) {
    return err(fmt::format(
        "data dir {} belongs to another cluster (its secret differs from this node's "
        "--cookie-file); start the node with that cluster's secret, or give it an empty data dir",
        path_));
  }
  if (auto it = meta.find("incarnation"); it != meta.end()) {
    last_incarnation_ = std::strtoull(it->second.c_str(), nullptr, 10);
  }
  return Ok{};
}

Result<Ok, std::string> DataDir::record_incarnation(std::uint64_t incarnation) {
  const std::string v = std::to_string(incarnation);
  sqlite3_reset(put_meta_);
  sqlite3_bind_text(put_meta_, 1, "incarnation", -1, SQLITE_STATIC);
  sqlite3_bind_blob(put_meta_, 2, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(put_meta_) != SQLITE_DONE) return err(error("cannot record the incarnation"));
  last_incarnation_ = incarnation;
  return Ok{};
}

Result<Snapshot, std::string> DataDir::load() {
  Snapshot snap;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT key, value, replica, counter, hlc FROM entries", -1, &s,
                         nullptr) != SQLITE_OK) {
    return err(error("cannot read entries") + corrupt_hint(path_));
  }
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    StoredEntry e{
        blob(s, 0), blob(s, 1),
        crdt::Dot{from_db(sqlite3_column_int64(s, 2)), from_db(sqlite3_column_int64(s, 3))},
        from_db(sqlite3_column_int64(s, 4))};
    if (!e.dot.valid()) {
      sqlite3_finalize(s);
      return err(fmt::format("data dir {}: an entry of key {:?} has an invalid dot{}", path_, e.key,
                             corrupt_hint(path_)));
    }
    snap.entries.push_back(std::move(e));
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return err(error("cannot read entries") + corrupt_hint(path_));

  sqlite3_stmt* c = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE name = 'context'", -1, &c, nullptr) !=
      SQLITE_OK) {
    return err(error("cannot read the context"));
  }
  if (sqlite3_step(c) == SQLITE_ROW) {
    auto ranges = decode_context(blob(c, 0));
    if (!ranges) {
      sqlite3_finalize(c);
      return err(fmt::format("data dir {}: {}{}", path_, ranges.error(), corrupt_hint(path_)));
    }
    snap.context = std::move(ranges).value();
  }
  sqlite3_finalize(c);
  return snap;
}

Result<Ok, std::string> DataDir::commit(const Batch& batch) {
  if (auto ok = exec("BEGIN IMMEDIATE"); !ok) return ok;
  auto fail = [&](const char* what) -> Result<Ok, std::string> {
    std::string m = error(what);
    (void)exec("ROLLBACK");
    return err(std::move(m));
  };
  for (const StoredEntry& e : batch.puts) {
    sqlite3_reset(put_);
    sqlite3_bind_blob(put_, 1, e.key.data(), static_cast<int>(e.key.size()), SQLITE_STATIC);
    sqlite3_bind_blob(put_, 2, e.value.data(), static_cast<int>(e.value.size()), SQLITE_STATIC);
    sqlite3_bind_int64(put_, 3, as_db(e.dot.replica));
    sqlite3_bind_int64(put_, 4, as_db(e.dot.counter));
    sqlite3_bind_int64(put_, 5, as_db(e.hlc));
    if (sqlite3_step(put_) != SQLITE_DONE) return fail("cannot write an entry");
  }
  for (const std::string& key : batch.removes) {
    sqlite3_reset(remove_);
    sqlite3_bind_blob(remove_, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    if (sqlite3_step(remove_) != SQLITE_DONE) return fail("cannot remove an entry");
  }
  const std::string context = encode_context(batch.context);
  sqlite3_reset(put_meta_);
  sqlite3_bind_text(put_meta_, 1, "context", -1, SQLITE_STATIC);
  sqlite3_bind_blob(put_meta_, 2, context.data(), static_cast<int>(context.size()), SQLITE_STATIC);
  if (sqlite3_step(put_meta_) != SQLITE_DONE) return fail("cannot write the context");
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail("cannot commit");
  }
  return Ok{};
}

std::uint64_t DataDir::bytes_on_disk() const {
  std::uint64_t total = 0;
  for (const char* f : {"/store.db", "/store.db-wal"}) {
    struct stat st {};
    if (::stat((path_ + f).c_str(), &st) == 0) total += static_cast<std::uint64_t>(st.st_size);
  }
  return total;
}

}  // namespace minotaur::storage
