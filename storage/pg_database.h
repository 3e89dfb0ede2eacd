// PgDatabase: the shared database that keeps the latest state of every session (`minotaur node
// --database-url postgresql://USER@HOST:PORT/DB`), through libpq, PostgreSQL's own C client
// (Debian: libpq-dev). Blocking calls on one connection: the node makes them before it serves
// (open, load) and from the store's database writer thread afterwards (write), never from its
// loop.
//
// One row per session key: the stashed value (handoff/stash.h: epoch, kind, holder, state) with
// the replica's dot and hybrid-clock stamp of the write, so that a cold start loads it the way a
// data dir's entry is loaded (a delta joined like a peer's: last-writer-wins by stamp, so an old
// row never overwrites a newer state a running peer holds), and the epoch in a column of its own
// for the fence. A write is one conditional upsert (kUpsertSql): it never replaces a row with a
// higher epoch, nor a newer write of the same epoch, so a stale owner cannot clobber a newer
// state — decided inside the database, whatever order writes of two nodes arrive in. A removal
// (a session that ended) deletes the row under the same fence.
//
// Only plain SQL and the PostgreSQL wire protocol: no extensions, no LOCK TABLE, no advisory
// locks, so CockroachDB and YugabyteDB accept it too (tested against PostgreSQL only).
//
// The schema is the node's own: open() creates it and migrates it, under a version kept in
// minotaur_schema (one row). A database whose schema is newer than this build knows is
// refused with a message saying so.
//
// Weakness: one statement per change inside a batch's transaction (a round trip each); a
// multi-row statement would be faster on a distant database.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "storage/data_dir.h"
#include "storage/db_queue.h"

struct pg_conn;

namespace minotaur::storage {

// The schema version this build writes and reads.
inline constexpr int kDbSchemaVersion = 1;

// The fenced write: $1 key, $2 epoch, $3 value (bytes), $4 dot replica, $5 dot counter, $6 hlc
// (64-bit numbers bit for bit as BIGINT). Affects no row when the row holds a higher epoch, or
// the same epoch with a newer stamp.
inline constexpr const char* kUpsertSql =
    "INSERT INTO minotaur_sessions (key, epoch, value, dot_replica, dot_counter, hlc) "
    "VALUES ($1, $2, $3, $4, $5, $6) "
    "ON CONFLICT (key) DO UPDATE SET epoch = excluded.epoch, value = excluded.value, "
    "dot_replica = excluded.dot_replica, dot_counter = excluded.dot_counter, hlc = excluded.hlc "
    "WHERE minotaur_sessions.epoch < excluded.epoch OR "
    "(minotaur_sessions.epoch = excluded.epoch AND minotaur_sessions.hlc <= excluded.hlc)";
// The fenced removal: $1 key, $2 epoch.
inline constexpr const char* kRemoveSql =
    "DELETE FROM minotaur_sessions WHERE key = $1 AND epoch <= $2";

// A row as read back: the entry to load, and the epoch column (which must match the value's).
struct DbRow {
  StoredEntry entry;
  std::uint64_t epoch = 0;
};

// Where a URL points, for messages (never the password).
std::string describe_database_url(const std::string& url);

class PgDatabase {
 public:
  // Connects (at most `connect_timeout_s`), then creates or migrates the schema. An error names
  // the host, port, database and user and says what to check; it never holds the password.
  static Result<std::unique_ptr<PgDatabase>, std::string> open(const std::string& url,
                                                               int connect_timeout_s = 5);
  ~PgDatabase();
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  // Every row. Rows that are not what this build writes (a NULL, a negative counter) are
  // skipped and counted in `skipped`; the caller checks the values themselves.
  Result<std::vector<DbRow>, std::string> load(std::size_t* skipped);
  // One transaction: every change of the batch, fenced. After a lost connection, the next call
  // connects again first.
  Result<DbWriteResult, std::string> write(const DbBatch& batch);

  const std::string& where() const { return where_; }

 private:
  PgDatabase(std::string url, std::string where) : url_(std::move(url)), where_(std::move(where)) {}
  Result<Ok, std::string> connect();
  Result<Ok, std::string> migrate();
  Result<Ok, std::string> exec(const char* sql);
  std::string error(const char* what) const;

  std::string url_;
  std::string where_;  // "HOST:PORT, database DB, user USER"
  int connect_timeout_s_ = 5;
  pg_conn* conn_ = nullptr;
  bool prepared_ = false;  // the writes are prepared on this connection
};

}  // namespace minotaur::storage
