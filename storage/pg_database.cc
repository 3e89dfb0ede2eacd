#include "storage/pg_database.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <tuple>

namespace minotaur::storage {

namespace {

// 64-bit numbers go to BIGINT columns bit for bit (a replica id uses all 64 bits).
std::string as_bigint(std::uint64_t v) {
  return std::to_string(static_cast<std::int64_t>(v));
}

std::uint64_t read_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

// libpq's message on one line: its lines (a hint on the second, tab-indented) joined by spaces.
std::string trimmed(const char* message) {
  std::string s;
  for (const char* p = message == nullptr ? "" : message; *p != '\0'; ++p) {
    const bool space = *p == '\n' || *p == '\t' || *p == ' ';
    if (space && (s.empty() || s.back() == ' ')) continue;
    s += space ? ' ' : *p;
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// libpq prints the server's notices ("relation already exists, skipping") to stderr otherwise.
void ignore_notice(void*, const char*) {}

struct ResultGuard {
  PGresult* r;
  ~ResultGuard() { PQclear(r); }
};

constexpr const char* kUpsertName = "minotaur_upsert";
constexpr const char* kRemoveName = "minotaur_remove";

}  // namespace

std::string describe_database_url(const std::string& url) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &parse_error);
  if (options == nullptr) {
    std::string why = trimmed(parse_error);
    PQfreemem(parse_error);
    return fmt::format("a database URL that does not parse ({})", why);
  }
  std::string host = "localhost";
  std::string port = "5432";
  std::string dbname;
  std::string user;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || o->val[0] == '\0') continue;
    if (std::strcmp(o->keyword, "host") == 0) host = o->val;
    if (std::strcmp(o->keyword, "port") == 0) port = o->val;
    if (std::strcmp(o->keyword, "dbname") == 0) dbname = o->val;
    if (std::strcmp(o->keyword, "user") == 0) user = o->val;
  }
  PQconninfoFree(options);
  return fmt::format("{}:{}, database {}, user {}", host, port,
                     dbname.empty() ? "(the user's name)" : dbname,
                     user.empty() ? "(this system user's name)" : user);
}

Result<std::unique_ptr<PgDatabase>, std::string> PgDatabase::open(const std::string& url,
                                                                  int connect_timeout_s) {
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = trimmed(parse_error);
    PQfreemem(parse_error);
    return err(fmt::format(
        "--database-url does not parse ({}); give it as postgresql://USER:PASSWORD@HOST:PORT/DB",
        why));
  }
  PQconninfoFree(parsed);
  std::unique_ptr<PgDatabase> db(new PgDatabase(url, describe_database_url(url)));
  db->connect_timeout_s_ = connect_timeout_s;
  if (auto ok = db->connect(); !ok) {
    return err(fmt::format(
        "cannot connect to the database at {} (check that PostgreSQL runs and listens there, "
        "that the URL's user, password and database name are right, and that the server lets "
        "this host in: pg_hba.conf): {}",
        db->where_, ok.error()));
  }
  // Nodes that start together may create the schema at once; one of them may then see another's
  // half-created table and fail. Asked again, it finds the schema done.
  Result<Ok, std::string> migrated = Ok{};
  for (int attempt = 0; attempt < 5; ++attempt) {
    migrated = db->migrate();
    if (migrated || migrated.error().find("newer") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * (attempt + 1)));
  }
  if (!migrated) return err(fmt::format("database at {}: {}", db->where_, migrated.error()));
  return db;
}

PgDatabase::~PgDatabase() {
  if (conn_ != nullptr) PQfinish(conn_);
}

std::string PgDatabase::error(const char* what) const {
  return fmt::format("{}: {}", what,
                     conn_ == nullptr ? "no connection" : trimmed(PQerrorMessage(conn_)));
}

Result<Ok, std::string> PgDatabase::connect() {
  if (conn_ != nullptr) {
    PQfinish(conn_);
    conn_ = nullptr;
  }
  prepared_ = false;
  const std::string timeout = std::to_string(connect_timeout_s_);
  // Client-side bounds, so that a database host that stops answering fails a write within
  // about 10 s instead of hanging the writer for the kernel's TCP time-out.
  const char* keywords[] = {"dbname",
                            "connect_timeout",
                            "application_name",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "tcp_user_timeout",
                            nullptr};
  const char* values[] = {url_.c_str(), timeout.c_str(), "minotaur", "5", "2",
                          "3",          "10000",         nullptr};
  conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) return err(std::string("out of memory"));
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string why = trimmed(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    return err(why);
  }
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  return Ok{};
}

Result<Ok, std::string> PgDatabase::exec(const char* sql) {
  ResultGuard r{PQexec(conn_, sql)};
  const ExecStatusType s = PQresultStatus(r.r);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) return err(error(sql));
  return Ok{};
}

Result<Ok, std::string> PgDatabase::migrate() {
  if (auto ok = exec("CREATE TABLE IF NOT EXISTS minotaur_schema "
                     "(id INT PRIMARY KEY, version INT NOT NULL)");
      !ok) {
    return ok;
  }
  int version = 0;
  {
    ResultGuard r{PQexec(conn_, "SELECT version FROM minotaur_schema WHERE id = 1")};
    if (PQresultStatus(r.r) != PGRES_TUPLES_OK) return err(error("reading the schema version"));
    if (PQntuples(r.r) == 1) version = std::atoi(PQgetvalue(r.r, 0, 0));
  }
  if (version > kDbSchemaVersion) {
    return err(fmt::format(
        "its schema is version {}, newer than this build reads ({}): a newer build of minotaur "
        "wrote it. Run that build (or a newer one), or give this one another database",
        version, kDbSchemaVersion));
  }
  if (version == kDbSchemaVersion) return Ok{};
  // Version 0 -> 1: the sessions table. A later version adds one step here per version, each in
  // its own transaction that also raises the version.
  if (auto ok = exec("BEGIN"); !ok) return ok;
  const char* create_sessions =
      "CREATE TABLE IF NOT EXISTS minotaur_sessions ("
      "key TEXT PRIMARY KEY, epoch BIGINT NOT NULL, value BYTEA NOT NULL, "
      "dot_replica BIGINT NOT NULL, dot_counter BIGINT NOT NULL, hlc BIGINT NOT NULL)";
  const char* raise_version =
      "INSERT INTO minotaur_schema (id, version) VALUES (1, 1) ON CONFLICT (id) DO UPDATE "
      "SET version = excluded.version WHERE minotaur_schema.version < excluded.version";
  const char* steps[] = {create_sessions, raise_version, "COMMIT"};
  for (const char* step : steps) {
    if (auto ok = exec(step); !ok) {
      (void)exec("ROLLBACK");
      return ok;
    }
  }
  return Ok{};
}

Result<std::vector<DbRow>, std::string> PgDatabase::load(std::size_t* skipped) {
  if (conn_ == nullptr) {
    if (auto ok = connect(); !ok) return err(ok.error());
  }
  *skipped = 0;
  ResultGuard r{PQexecParams(
      conn_,
      "SELECT key, epoch, value, dot_replica, dot_counter, hlc FROM minotaur_sessions ORDER BY key",
      0, nullptr, nullptr, nullptr, nullptr, /*resultFormat=binary*/ 1)};
  if (PQresultStatus(r.r) != PGRES_TUPLES_OK) return err(error("reading the sessions"));
  std::vector<DbRow> rows;
  const int n = PQntuples(r.r);
  rows.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    bool good = true;
    for (int c = 0; c < 6; ++c) good = good && !PQgetisnull(r.r, i, c);
    for (int c : {1, 3, 4, 5}) good = good && PQgetlength(r.r, i, c) == 8;
    if (!good) {
      ++*skipped;
      continue;
    }
    DbRow row;
    row.entry.key.assign(PQgetvalue(r.r, i, 0), static_cast<std::size_t>(PQgetlength(r.r, i, 0)));
    row.epoch = read_be64(PQgetvalue(r.r, i, 1));
    row.entry.value.assign(PQgetvalue(r.r, i, 2), static_cast<std::size_t>(PQgetlength(r.r, i, 2)));
    row.entry.dot.replica = read_be64(PQgetvalue(r.r, i, 3));
    row.entry.dot.counter = read_be64(PQgetvalue(r.r, i, 4));
    row.entry.hlc = read_be64(PQgetvalue(r.r, i, 5));
    if (row.entry.key.empty() || !row.entry.dot.valid() ||
        row.entry.hlc > static_cast<std::uint64_t>(INT64_MAX) ||
        row.epoch > static_cast<std::uint64_t>(INT64_MAX)) {
      ++*skipped;
      continue;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<DbWriteResult, std::string> PgDatabase::write(const DbBatch& batch) {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    if (auto ok = connect(); !ok) return err(ok.error());
  }
  // Prepared once per connection (a new connection after a failure prepares them again).
  if (!prepared_) {
    for (auto [name, sql, params] :
         {std::tuple{kUpsertName, kUpsertSql, 6}, std::tuple{kRemoveName, kRemoveSql, 2}}) {
      ResultGuard p{PQprepare(conn_, name, sql, params, nullptr)};
      if (PQresultStatus(p.r) != PGRES_COMMAND_OK) return err(error("preparing the writes"));
    }
    prepared_ = true;
  }
  if (auto ok = exec("BEGIN"); !ok) return err(ok.error());
  DbWriteResult result;
  for (const DbChange& c : batch.changes) {
    PGresult* r = nullptr;
    const std::string epoch = as_bigint(c.epoch);
    if (c.remove) {
      const char* values[] = {c.key.c_str(), epoch.c_str()};
      r = PQexecPrepared(conn_, kRemoveName, 2, values, nullptr, nullptr, 0);
    } else {
      const std::string replica = as_bigint(c.dot.replica);
      const std::string counter = as_bigint(c.dot.counter);
      const std::string hlc = as_bigint(c.hlc);
      const char* values[] = {c.key.c_str(),   epoch.c_str(),   c.value.data(),
                              replica.c_str(), counter.c_str(), hlc.c_str()};
      const int lengths[] = {0, 0, static_cast<int>(c.value.size()), 0, 0, 0};
      const int formats[] = {0, 0, 1, 0, 0, 0};  // the value as bytes, the rest as text
      r = PQexecPrepared(conn_, kUpsertName, 6, values, lengths, formats, 0);
    }
    ResultGuard g{r};
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      std::string why = error("writing a session");
      (void)exec("ROLLBACK");
      return err(why);
    }
    // A put the fence kept affects no row; so does removing a row that is not there, which is
    // no fence (nothing newer is there), so only puts count.
    if (!c.remove && std::strcmp(PQcmdTuples(r), "0") == 0) ++result.fenced;
  }
  if (auto ok = exec("COMMIT"); !ok) return err(ok.error());
  result.ok = true;
  return result;
}

}  // namespace minotaur::storage
