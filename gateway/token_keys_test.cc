#include "gateway/token_keys.h"

#include <gtest/gtest.h>

#include <limits>

#include "gateway/tokens.h"

namespace minotaur::gateway {
namespace {

// base64url of 32 bytes, and of 16.
const std::string kKeyA = base64url_encode(std::string(32, 'a'));
const std::string kKeyB = base64url_encode(std::string(32, 'b'));
const std::string kShortKey = base64url_encode(std::string(16, 'c'));

TEST(TokenKeys, ParsesKeysCommentsAndBlankLines) {
  const std::string text = "# the cluster's keys\n\n   \nk2 2000 " + kKeyB +
                           "   # the newest\r\n\tk1\t1000\t" + kKeyA + "\n# the end";
  auto keys = parse_token_keys(text, "keys.txt");
  ASSERT_TRUE(keys.ok()) << keys.error();
  ASSERT_EQ(keys.value().size(), 2u);
  EXPECT_EQ(keys.value()[0].id, "k2");
  EXPECT_EQ(keys.value()[0].created_at_ms, 2000);
  EXPECT_EQ(keys.value()[0].secret, std::string(32, 'b'));
  EXPECT_EQ(keys.value()[1].id, "k1");
  EXPECT_EQ(keys.value()[1].secret, std::string(32, 'a'));
}

TEST(TokenKeys, AMalformedLineIsNamedWithWhatIsWrong) {
  struct Case {
    std::string text;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"k1 1000\n", "keys.txt line 1: 2 field(s), expected 3"},
      {"# c\nk1 1000 " + kKeyA + " extra\n", "keys.txt line 2: 4 field(s)"},
      {"k.1 1000 " + kKeyA, "line 1: key id 'k.1' must be 1 to 32 letters"},
      {std::string(33, 'k') + " 1000 " + kKeyA, "line 1: key id"},
      {"k1 12x " + kKeyA, "line 1: created time '12x' is not a whole number"},
      {"k1 -5 " + kKeyA, "line 1: created time '-5'"},
      {"k1 +5 " + kKeyA, "line 1: created time '+5'"},
      {"k1 9999999999999999 " + kKeyA, "line 1: created time '9999999999999999'"},
      {"k1 1000 abc+def=", "line 1: the key is not base64url"},
      {"k1 1000 " + kShortKey, "line 1: the key has 16 bytes; a key needs at least 32"},
      {"k1 1000 " + kKeyA + "\n\nk1 2000 " + kKeyB,
       "line 3: key id 'k1' is already the id of line 1"},
      {"k1 1000 " + kKeyA + "\nk2 1000 " + kKeyB,
       "line 2: created time 1000 is already that of line 1"},
      {"# only comments\n\n", "keys.txt holds no key"},
      {"", "keys.txt holds no key"},
  };
  for (const Case& c : cases) {
    auto r = parse_token_keys(c.text, "keys.txt");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().find(c.says), std::string::npos) << c.text << "\n -> " << r.error();
  }
  // A refused key, and an empty file, say how to make good ones.
  auto r = parse_token_keys("k1 1000 " + kShortKey, "keys.txt");
  EXPECT_NE(r.error().find("`minotaur token-keys new FILE` makes good keys"), std::string::npos)
      << r.error();
  r = parse_token_keys("", "keys.txt");
  EXPECT_NE(r.error().find("run `minotaur token-keys new keys.txt`"), std::string::npos)
      << r.error();
}

TEST(TokenKeys, AFormattedKeyParsesBack) {
  auto k = generate_token_key(1'764'000'000'000);
  ASSERT_TRUE(k.ok()) << k.error();
  EXPECT_EQ(k.value().secret.size(), 32u);
  auto back = parse_token_keys(format_token_key(k.value()), "x");
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back.value()[0].id, k.value().id);
  EXPECT_EQ(back.value()[0].created_at_ms, 1'764'000'000'000);
  EXPECT_EQ(back.value()[0].secret, k.value().secret);
  auto other = generate_token_key(1, {k.value()});
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other.value().id, k.value().id);
  EXPECT_NE(other.value().secret, k.value().secret);
}

TEST(TokenKeys, AKeyRetiresAtTheNextNewerKeysCreatedTimePlusTheOverlap) {
  const std::vector<TokenKey> keys = {{"c", 9'000, "x"}, {"a", 1'000, "x"}, {"b", 5'000, "x"}};
  EXPECT_EQ(token_key_retired_at_ms(keys, keys[1], 100), 5'100);
  EXPECT_EQ(token_key_retired_at_ms(keys, keys[2], 100), 9'100);
  EXPECT_EQ(token_key_retired_at_ms(keys, keys[0], 100), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(token_key_retired_at_ms(keys, keys[1], std::numeric_limits<std::int64_t>::max()),
            std::numeric_limits<std::int64_t>::max());
}

TEST(TokenKeys, ARotationPutsTheNewKeyFirstAndDropsTheRetired) {
  const std::vector<TokenKey> keys = {{"a", 1'000, "x"}, {"b", 5'000, "x"}};
  const TokenKey fresh{"c", 9'000, "x"};
  // At 9'000 with overlap 4'000: "a" retired at 9'000 (dropped), "b" verifies until 13'000.
  const auto r = rotate_token_keys(keys, fresh, 9'000, 4'000);
  ASSERT_EQ(r.kept.size(), 2u);
  EXPECT_EQ(r.kept[0].id, "c");
  EXPECT_EQ(r.kept[1].id, "b");
  ASSERT_EQ(r.dropped.size(), 1u);
  EXPECT_EQ(r.dropped[0].id, "a");
  // One millisecond earlier, "a" still verifies.
  EXPECT_EQ(rotate_token_keys(keys, fresh, 8'999, 4'000).kept.size(), 3u);
}

}  // namespace
}  // namespace minotaur::gateway
