#include "storage/data_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace minotaur::storage {
namespace {

namespace fs = std::filesystem;

class DataDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/minotaur-data-dir-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/n1";
  }
  void TearDown() override { fs::remove_all(root_); }

  static Identity id(std::string node = "n1", std::string cluster = "c1") {
    return Identity{std::move(node), std::move(cluster)};
  }
  static StoredEntry entry(std::string key, std::string value, std::uint64_t counter) {
    return StoredEntry{std::move(key), std::move(value), crdt::Dot{7, counter}, 1000 + counter};
  }

  std::string root_;
  std::string dir_;
};

TEST_F(DataDirTest, WhatIsCommittedIsLoadedBackAfterAReopen) {
  {
    auto d = DataDir::open(dir_, id());
    ASSERT_TRUE(d) << d.error();
    Batch b;
    b.seq = 1;
    b.puts = {entry("game:a", "state-a", 1), entry("game:b", std::string("\0bin\xff", 5), 2)};
    b.context = {crdt::DotRange{7, 1, 2}};
    ASSERT_TRUE(d.value()->commit(b));
    Batch c;
    c.seq = 2;
    c.puts = {entry("game:a", "state-a2", 3)};
    c.removes = {"game:b"};
    c.context = {crdt::DotRange{7, 1, 3}, crdt::DotRange{9, 1, 1}};
    ASSERT_TRUE(d.value()->commit(c));
  }
  auto d = DataDir::open(dir_, id());
  ASSERT_TRUE(d) << d.error();
  auto snap = d.value()->load();
  ASSERT_TRUE(snap) << snap.error();
  ASSERT_EQ(snap.value().entries.size(), 1u);
  EXPECT_EQ(snap.value().entries[0], entry("game:a", "state-a2", 3));
  EXPECT_EQ(snap.value().context,
            (std::vector<crdt::DotRange>{crdt::DotRange{7, 1, 3}, crdt::DotRange{9, 1, 1}}));
}

TEST_F(DataDirTest, ANewDirIsEmptyAndRemembersTheIncarnation) {
  {
    auto d = DataDir::open(dir_, id());
    ASSERT_TRUE(d) << d.error();
    EXPECT_EQ(d.value()->last_incarnation(), 0u);
    auto snap = d.value()->load();
    ASSERT_TRUE(snap);
    EXPECT_TRUE(snap.value().entries.empty());
    EXPECT_TRUE(snap.value().context.empty());
    ASSERT_TRUE(d.value()->record_incarnation(12345));
  }
  auto d = DataDir::open(dir_, id());
  ASSERT_TRUE(d) << d.error();
  EXPECT_EQ(d.value()->last_incarnation(), 12345u);
}

TEST_F(DataDirTest, ASecondNodeCannotOpenADirInUse) {
  auto first = DataDir::open(dir_, id());
  ASSERT_TRUE(first) << first.error();
  auto second = DataDir::open(dir_, id());
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("in use by another running node"), std::string::npos)
      << second.error();
  EXPECT_NE(second.error().find(std::to_string(::getpid())), std::string::npos) << second.error();
  first.value().reset();
  EXPECT_TRUE(DataDir::open(dir_, id()));  // the lock goes with the process that held it
}

TEST_F(DataDirTest, ADirOfAnotherNodeOrClusterIsRefused) {
  ASSERT_TRUE(DataDir::open(dir_, id()));
  auto other_node = DataDir::open(dir_, id("n2"));
  ASSERT_FALSE(other_node);
  EXPECT_NE(other_node.error().find("belongs to node n1, not n2"), std::string::npos);
  auto other_cluster = DataDir::open(dir_, id("n1", "c2"));
  ASSERT_FALSE(other_cluster);
  EXPECT_NE(other_cluster.error().find("another cluster"), std::string::npos);
}

TEST_F(DataDirTest, MissingParentsFilesAndUnwritableDirsGiveClearErrors) {
  auto no_parent = DataDir::open(root_ + "/missing/n1", id());
  ASSERT_FALSE(no_parent);
  EXPECT_NE(no_parent.error().find("create its parent"), std::string::npos) << no_parent.error();

  std::ofstream(root_ + "/a-file") << "x";
  auto file = DataDir::open(root_ + "/a-file", id());
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().find("not a directory"), std::string::npos);

  if (::geteuid() != 0) {  // root writes anywhere
    ::mkdir((root_ + "/ro").c_str(), 0500);
    auto ro = DataDir::open(root_ + "/ro", id());
    ASSERT_FALSE(ro);
    EXPECT_NE(ro.error().find("writable"), std::string::npos) << ro.error();
  }
}

TEST_F(DataDirTest, ACorruptDatabaseIsRefusedWithWhatToDo) {
  ASSERT_TRUE(::mkdir(dir_.c_str(), 0700) == 0);
  std::ofstream(dir_ + "/store.db") << std::string(8192, 'z');
  auto d = DataDir::open(dir_, id());
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().find("move " + dir_ + " aside"), std::string::npos) << d.error();
}

// A kill in the middle of a commit leaves the WAL's last frames torn: SQLite's recovery drops
// that transaction and keeps every one before it.
TEST_F(DataDirTest, ATornLastBatchIsDroppedAndTheOnesBeforeItKept) {
  std::uintmax_t wal_before_last = 0;
  {
    auto d = DataDir::open(dir_, id());
    ASSERT_TRUE(d) << d.error();
    Batch b;
    b.puts = {entry("game:a", "first", 1)};
    b.context = {crdt::DotRange{7, 1, 1}};
    ASSERT_TRUE(d.value()->commit(b));
    wal_before_last = fs::file_size(dir_ + "/store.db-wal");
    Batch c;
    c.puts = {entry("game:a", std::string(20000, 's'), 2), entry("game:b", "second", 3)};
    c.context = {crdt::DotRange{7, 1, 3}};
    ASSERT_TRUE(d.value()->commit(c));
    // Copy the files as a crash would leave them: with the last transaction cut short.
    fs::create_directory(root_ + "/crash");
    fs::copy_file(dir_ + "/store.db", root_ + "/crash/store.db");
    fs::copy_file(dir_ + "/store.db-wal", root_ + "/crash/store.db-wal");
  }
  const auto wal_size = fs::file_size(root_ + "/crash/store.db-wal");
  ASSERT_GT(wal_size, wal_before_last + 4096);
  fs::resize_file(root_ + "/crash/store.db-wal",
                  wal_before_last + (wal_size - wal_before_last) / 2);

  auto d = DataDir::open(root_ + "/crash", id());
  ASSERT_TRUE(d) << d.error();
  auto snap = d.value()->load();
  ASSERT_TRUE(snap) << snap.error();
  ASSERT_EQ(snap.value().entries.size(), 1u);
  EXPECT_EQ(snap.value().entries[0].value, "first");
  EXPECT_EQ(snap.value().context, (std::vector<crdt::DotRange>{crdt::DotRange{7, 1, 1}}));
}

TEST_F(DataDirTest, TheFingerprintTellsClustersApartAndHidesTheSecret) {
  const std::string a = cluster_fingerprint("secret-one-with-enough-entropy-123456");
  EXPECT_EQ(a, cluster_fingerprint("secret-one-with-enough-entropy-123456"));
  EXPECT_NE(a, cluster_fingerprint("secret-two-with-enough-entropy-123456"));
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace minotaur::storage
