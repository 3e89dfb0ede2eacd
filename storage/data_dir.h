// DataDir: a node's replica of the replicated store on its local disk (`minotaur node
// --data-dir`), in SQLite in WAL mode — the embedded engine docs/DESIGN.md ("Durability") chose.
//
// What is kept is the replica's state as crdt/ sees it: the winning entry of every key (value,
// dot, hybrid-clock stamp) and the causal context (every dot the replica has seen). Loaded back
// into a new incarnation's replica, it is a delta like any a peer sends: LWW by stamp, so an old
// copy never overwrites a newer one that a peer holds, and the peers' anti-entropy exchange
// carries what each side lacks. Losing siblings (concurrent writes that lost) are not kept: their
// dots are in the context, so after a restart they count as dead, which they are once any write
// to the key is seen.
//
// A commit is one SQLite transaction (synchronous=FULL: fsync of the WAL before it returns), so a
// batch is on the disk whole or not at all; a torn last batch (a kill or power cut in the middle
// of the write) is rolled back by SQLite's WAL recovery the next time the file is opened.
//
// The directory holds `store.db` (+ its -wal and -shm) and `LOCK`, locked with flock(2) for as
// long as the node runs, so that two nodes never share one directory. The first open records the
// node's name and the cluster's identity (a fingerprint of the cluster secret, never the secret);
// later opens refuse a directory of another node or cluster. Every refusal is an operating error
// with a message that says what to do.
//
// Thread: open() and load() before the node serves; commit() from one thread at a time (the
// store's writer thread). Weakness: every commit rewrites the causal context (a row of
// 24 bytes per range): small while each incarnation's dots are contiguous, as they are.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "crdt/dot.h"

struct sqlite3;
struct sqlite3_stmt;

namespace minotaur::storage {

struct StoredEntry {
  std::string key;
  std::string value;
  crdt::Dot dot;
  std::uint64_t hlc = 0;
  friend bool operator==(const StoredEntry&, const StoredEntry&) = default;
};

// Everything a data dir holds: what a new replica starts from.
struct Snapshot {
  std::vector<StoredEntry> entries;
  std::vector<crdt::DotRange> context;
};

// The keys that changed since the last commit: their winning entries now, or their removal, and
// the whole context as it is now.
struct Batch {
  std::uint64_t seq = 0;  // 1, 2, ... per process: what StoreCore::on_committed reports
  std::vector<StoredEntry> puts;
  std::vector<std::string> removes;
  std::vector<crdt::DotRange> context;
  bool empty() const { return puts.empty() && removes.empty(); }
};

struct Identity {
  std::string node_name;
  std::string cluster_id;  // a fingerprint of the cluster secret (cluster_fingerprint)
};

// What a data dir records of the cluster secret: 16 hex digits of HMAC-SHA256(secret, fixed
// string). It tells two clusters apart; it tells nothing about the secret.
std::string cluster_fingerprint(const std::string& cluster_secret);

class DataDir {
 public:
  // Creates the directory if it is missing (its parent must exist), locks it, opens or creates
  // the database and checks it (integrity, format, node name, cluster).
  static Result<std::unique_ptr<DataDir>, std::string> open(const std::string& path,
                                                            const Identity& identity);
  ~DataDir();
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  Result<Snapshot, std::string> load();
  Result<Ok, std::string> commit(const Batch& batch);

  // The incarnation of the node's last start here (0: none), and this one's: a node's
  // incarnation must grow across restarts even when the wall clock went back.
  std::uint64_t last_incarnation() const { return last_incarnation_; }
  Result<Ok, std::string> record_incarnation(std::uint64_t incarnation);

  const std::string& path() const { return path_; }
  // Bytes of store.db and its WAL on disk now.
  std::uint64_t bytes_on_disk() const;

 private:
  DataDir(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  Result<Ok, std::string> init(const Identity& identity);
  Result<Ok, std::string> exec(const char* sql);
  std::string error(const char* what) const;

  std::string path_;
  int lock_fd_ = -1;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* remove_ = nullptr;
  sqlite3_stmt* put_meta_ = nullptr;
  std::uint64_t last_incarnation_ = 0;
};

}  // namespace minotaur::storage
