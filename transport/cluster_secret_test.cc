#include "transport/cluster_secret.h"

#include <gtest/gtest.h>

namespace minotaur::transport {
namespace {

TEST(ClusterSecret, AcceptsWhatUrandomGives) {
  // head -c 32 /dev/urandom | base64, and 32 random bytes as hex.
  EXPECT_TRUE(check_cluster_secret("q8Xr0Lh3mV9tZ2cYpN4bW7sK1eJ6fA5dG0uH8iO2lQk=").ok());
  EXPECT_TRUE(
      check_cluster_secret("3f9a0c1be27d4856a9f03c7e12b4d58e6a0f9c3b7e21d4a85c6f0e9b3a7d1c42")
          .ok());
}

TEST(ClusterSecret, RefusesShortSecretsAndSaysHowToMakeOne) {
  auto r = check_cluster_secret("s3cret");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("has 6 bytes"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("head -c 32 /dev/urandom | base64"), std::string::npos) << r.error();
  EXPECT_FALSE(check_cluster_secret("").ok());
  EXPECT_FALSE(check_cluster_secret("0123456789abcdefghijklmnopqrstu").ok());  // 31
  EXPECT_TRUE(check_cluster_secret("0123456789abcdefghijklmnopqrstuv").ok());  // 32
}

TEST(ClusterSecret, RefusesFewDistinctCharacters) {
  EXPECT_FALSE(check_cluster_secret(std::string(64, 'a')).ok());
  auto r = check_cluster_secret("passwordpasswordpasswordpassword!");  // 8 distinct
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("only 8 distinct"), std::string::npos) << r.error();
}

TEST(ClusterSecret, RefusesARepeatedPiece) {
  auto r = check_cluster_secret("0123456789abcdef0123456789abcdef");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("repeats its first 16"), std::string::npos) << r.error();
  EXPECT_FALSE(check_cluster_secret("abcdefghijabcdefghijabcdefghijabc").ok());  // period 10
  // A piece that comes back, but is longer than half of the secret, is no repetition.
  EXPECT_TRUE(check_cluster_secret("0123456789abcdefghij0123456789abcdefgh").ok());
}

}  // namespace
}  // namespace minotaur::transport
