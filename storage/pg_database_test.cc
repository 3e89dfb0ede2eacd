// PgDatabase against a real PostgreSQL server that the test starts (tooling/postgres_server.h).
#include "storage/pg_database.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "tooling/postgres_server.h"

namespace minotaur::storage {
namespace {

class PgDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = minotaur::tooling::PostgresServer::create();
    ASSERT_TRUE(s) << s.error();
    server_ = std::move(s).value();
  }
  void TearDown() override {
    if (HasFailure() && server_)
      std::printf("PostgreSQL's log:\n%s\n", server_->log_tail().c_str());
  }
  std::unique_ptr<PgDatabase> open() {
    auto db = PgDatabase::open(server_->url());
    EXPECT_TRUE(db) << db.error();
    return db ? std::move(db).value() : nullptr;
  }
  std::string row(const std::string& key) {
    auto out = server_->psql(
        "SELECT epoch || ' ' || encode(value, 'escape') || ' ' || hlc "
        "FROM minotaur_sessions WHERE key = '" +
        key + "'");
    EXPECT_TRUE(out) << out.error();
    std::string s = out ? out.value() : "";
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }
  std::unique_ptr<minotaur::tooling::PostgresServer> server_;
};

DbChange put(const std::string& key, std::uint64_t epoch, const std::string& value,
             std::uint64_t hlc) {
  return DbChange{key, false, epoch, value, crdt::Dot{42, hlc}, hlc};
}

DbWriteResult write(PgDatabase& db, std::vector<DbChange> changes) {
  static std::uint64_t seq = 0;
  auto r = db.write(DbBatch{++seq, std::move(changes)});
  EXPECT_TRUE(r) << r.error();
  return r ? r.value() : DbWriteResult{};
}

TEST_F(PgDatabaseTest, AStaleOwnersWriteIsRefusedByTheDatabase) {
  auto db = open();
  ASSERT_TRUE(db);
  EXPECT_EQ(write(*db, {put("game:a", 5, "five", 100)}).fenced, 0u);
  EXPECT_EQ(row("game:a"), "5 five 100");

  // A lower epoch never replaces a higher one, whatever its stamp.
  EXPECT_EQ(write(*db, {put("game:a", 4, "four", 900)}).fenced, 1u);
  EXPECT_EQ(row("game:a"), "5 five 100");
  // The same epoch (one owner): its newer writes replace the older, never the reverse.
  EXPECT_EQ(write(*db, {put("game:a", 5, "older", 99)}).fenced, 1u);
  EXPECT_EQ(write(*db, {put("game:a", 5, "newer", 101)}).fenced, 0u);
  EXPECT_EQ(row("game:a"), "5 newer 101");
  // A higher epoch (the next owner) replaces it, even with an older stamp (another node's clock).
  EXPECT_EQ(write(*db, {put("game:a", 6, "six", 50)}).fenced, 0u);
  EXPECT_EQ(row("game:a"), "6 six 50");

  // A stale owner's removal keeps the newer row; the owner's own removes it.
  EXPECT_EQ(write(*db, {DbChange{"game:a", true, 5, "", {}, 0}}).fenced, 0u);
  EXPECT_EQ(row("game:a"), "6 six 50");
  (void)write(*db, {DbChange{"game:a", true, 6, "", {}, 0}});
  EXPECT_EQ(row("game:a"), "");
}

TEST_F(PgDatabaseTest, RowsAreReadBackBitForBitAndBadRowsAreSkipped) {
  auto db = open();
  ASSERT_TRUE(db);
  const std::string bytes("\0\x01\xff'x\\", 6);
  DbChange big{"lobby:KXJRPT", false, 7, bytes, crdt::Dot{0xfedcba9876543210ULL, 3}, 1ULL << 50};
  (void)write(*db, {big, put("game:b", 1, "b", 2)});
  // A row that this build would never write: its dot counter is 0.
  auto inserted =
      server_->psql("INSERT INTO minotaur_sessions VALUES ('game:bad', 1, 'x', 5, 0, 1)");
  ASSERT_TRUE(inserted) << inserted.error();

  std::size_t skipped = 0;
  auto rows = db->load(&skipped);
  ASSERT_TRUE(rows) << rows.error();
  EXPECT_EQ(skipped, 1u);
  ASSERT_EQ(rows.value().size(), 2u);
  EXPECT_EQ(rows.value()[0].entry.key, "game:b");
  const DbRow& r = rows.value()[1];
  EXPECT_EQ(r.entry, (StoredEntry{big.key, big.value, big.dot, big.hlc}));
  EXPECT_EQ(r.epoch, 7u);
}

TEST_F(PgDatabaseTest, AWrongPasswordFailsNamingTheHostAndWhatToCheck) {
  auto db = PgDatabase::open(server_->url("not-the-password"));
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().find(fmt::format("127.0.0.1:{}", server_->port())), std::string::npos)
      << db.error();
  EXPECT_NE(db.error().find("password"), std::string::npos) << db.error();
  EXPECT_EQ(db.error().find("not-the-password"), std::string::npos) << "never the password";
}

TEST_F(PgDatabaseTest, ANewerSchemaIsRefusedAndAnOlderOneIsKept) {
  { ASSERT_TRUE(open()); }
  { ASSERT_TRUE(open()) << "opening a database of this schema again"; }
  ASSERT_TRUE(server_->psql("UPDATE minotaur_schema SET version = 99"));
  auto db = PgDatabase::open(server_->url());
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().find("version 99, newer than this build reads (1)"), std::string::npos)
      << db.error();
}

TEST_F(PgDatabaseTest, AWriteFailsWhileTheDatabaseIsDownAndSucceedsOnceItIsBack) {
  auto db = open();
  ASSERT_TRUE(db);
  (void)write(*db, {put("game:a", 1, "one", 1)});
  ASSERT_TRUE(server_->stop());
  auto failed = db->write(DbBatch{100, {put("game:a", 1, "two", 2)}});
  EXPECT_FALSE(failed);
  ASSERT_TRUE(server_->start());
  EXPECT_EQ(write(*db, {put("game:a", 1, "three", 3)}).fenced, 0u);
  EXPECT_EQ(row("game:a"), "1 three 3");
}

}  // namespace
}  // namespace minotaur::storage
