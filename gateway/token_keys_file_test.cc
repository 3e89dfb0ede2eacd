#include "gateway/token_keys_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace minotaur::gateway {
namespace {

namespace fs = std::filesystem;

class TokenKeysFile : public ::testing::Test {
 protected:
  TokenKeysFile() {
    dir_ = fs::temp_directory_path() / ("minotaur-token-keys-" + std::to_string(getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    path_ = (dir_ / "token-keys").string();
  }
  ~TokenKeysFile() override { fs::remove_all(dir_); }

  std::string text() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path dir_;
  std::string path_;
};

constexpr std::int64_t kDay = 24 * 3600 * 1000;

TEST_F(TokenKeysFile, NewCreatesTheFileWithOneKeyReadableOnlyByItsOwner) {
  auto made = new_token_key_in_file(path_, 10 * kDay, kDay);
  ASSERT_TRUE(made.ok()) << made.error();
  EXPECT_NE(made.value().report.find("created " + path_), std::string::npos);
  EXPECT_EQ(fs::status(path_).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto keys = load_token_keys_file(path_);
  ASSERT_TRUE(keys.ok()) << keys.error();
  ASSERT_EQ(keys.value().size(), 1u);
  EXPECT_EQ(keys.value()[0].id, made.value().added.id);
  EXPECT_EQ(keys.value()[0].created_at_ms, 10 * kDay);
  EXPECT_EQ(keys.value()[0].secret.size(), 32u);
  EXPECT_EQ(text().rfind("# ", 0), 0u) << "the file explains itself";
}

TEST_F(TokenKeysFile, NewOnAnExistingFilePrependsAKeyAndDropsTheRetired) {
  ASSERT_TRUE(new_token_key_in_file(path_, 10 * kDay, kDay).ok());
  auto second = new_token_key_in_file(path_, 11 * kDay, kDay);
  ASSERT_TRUE(second.ok()) << second.error();
  auto keys = load_token_keys_file(path_);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys.value().size(), 2u);
  EXPECT_EQ(keys.value()[0].id, second.value().added.id);
  EXPECT_NE(second.value().report.find("kept key " + keys.value()[1].id), std::string::npos)
      << second.value().report;
  // The clock went back: the new key is still the newest.
  auto third = new_token_key_in_file(path_, 5 * kDay, kDay);
  ASSERT_TRUE(third.ok()) << third.error();
  EXPECT_EQ(third.value().added.created_at_ms, 11 * kDay + 1);
  // A day after the third key, the first and second are retired.
  auto fourth = new_token_key_in_file(path_, 12 * kDay + 1, kDay);
  ASSERT_TRUE(fourth.ok()) << fourth.error();
  keys = load_token_keys_file(path_);
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys.value().size(), 2u);
  EXPECT_EQ(keys.value()[0].id, fourth.value().added.id);
  EXPECT_EQ(keys.value()[1].id, third.value().added.id);
  EXPECT_NE(fourth.value().report.find("dropped retired key(s)"), std::string::npos)
      << fourth.value().report;
  EXPECT_EQ(fs::status(path_).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(TokenKeysFile, AMalformedFileIsNeitherLoadedNorRotated) {
  std::ofstream(path_) << "# keys\nk1 1000 not-a-key\n";
  auto loaded = load_token_keys_file(path_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find(path_ + " line 2: "), std::string::npos) << loaded.error();
  auto rotated = new_token_key_in_file(path_, kDay, kDay);
  ASSERT_FALSE(rotated.ok());
  EXPECT_NE(rotated.error().find("line 2"), std::string::npos) << rotated.error();
  EXPECT_EQ(text(), "# keys\nk1 1000 not-a-key\n");
}

TEST_F(TokenKeysFile, AMissingFileSaysHowToCreateIt) {
  auto loaded = load_token_keys_file(path_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find("minotaur token-keys new " + path_), std::string::npos)
      << loaded.error();
}

}  // namespace
}  // namespace minotaur::gateway
