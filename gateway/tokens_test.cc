#include "gateway/tokens.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>

namespace minotaur::gateway {
namespace {

constexpr std::int64_t kFar = 1'000'000'000;  // an expiry no test reaches

TokenKey key(std::string id, std::int64_t created_ms, char fill) {
  return TokenKey{std::move(id), created_ms, std::string(32, fill)};
}

std::string hmac(std::string_view k, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string payload(const std::string& user) {
  return base64url_encode(
      boost::json::serialize(boost::json::object{{"u", user}, {"n", "Eve"}, {"e", kFar}}));
}

TEST(Base64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    auto back = base64url_decode(base64url_encode(bytes));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back.value(), bytes);
    bytes.push_back(static_cast<char>(i * 37 + 250));
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("a").ok());
  EXPECT_FALSE(base64url_decode("ab+c").ok());
  EXPECT_FALSE(base64url_decode("a$bc").ok());
}

TEST(Tokens, AWellSignedTokenNamesItsKeyAndCarriesItsClaims) {
  const TokenSigner signer({key("k1", 100, 'a')}, 0);
  const std::string t = signer.issue({"u_1", "Ana", 2'000});
  EXPECT_EQ(t.rfind("v2.k1.", 0), 0u) << t;
  auto c = signer.verify(t, 1'000);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.value().user_id, "u_1");
  EXPECT_EQ(c.value().display_name, "Ana");
  EXPECT_EQ(c.value().expires_at_ms, 2'000);
}

TEST(Tokens, RefusesExpiredForgedAndMalformedTokens) {
  const TokenSigner signer({key("k1", 100, 'a')}, 0);
  const std::string t = signer.issue({"u_1", "Ana", 2'000});
  EXPECT_FALSE(signer.verify(t, 2'000).ok());  // expired
  std::string flipped = t;
  flipped[8] = flipped[8] == 'A' ? 'B' : 'A';  // payload changed
  EXPECT_FALSE(signer.verify(flipped, 1'000).ok());
  const std::string other = signer.issue({"u_2", "Bo", 2'000});  // mac of another token
  EXPECT_FALSE(
      signer.verify(t.substr(0, t.rfind('.')) + other.substr(other.rfind('.')), 1'000).ok());
  for (const char* junk :
       {"", "v2.", "v2..", "v2.k1.", "v2.k1..", "v2.k1.e30.", "x.y.z", "Bearer", "v3.k1.e30.abc"}) {
    EXPECT_FALSE(signer.verify(junk, 1'000).ok()) << junk;
  }
}

TEST(Tokens, TheNewestKeySignsAndEveryKeyVerifies) {
  const TokenKey old_key = key("old", 1'000, 'o');
  const TokenKey new_key = key("new", 5'000, 'n');
  const TokenSigner before({old_key}, 100);
  const TokenSigner after({new_key, old_key}, 100);  // the file's order does not matter
  EXPECT_EQ(after.signing_key_id(), "new");
  EXPECT_EQ(after.issue({"u_1", "Ana", kFar}).rfind("v2.new.", 0), 0u);
  const std::string old_token = before.issue({"u_1", "Ana", kFar});
  EXPECT_TRUE(after.verify(old_token, 4'000).ok());
  EXPECT_TRUE(after.verify(after.issue({"u_1", "Ana", kFar}), 4'000).ok());
  EXPECT_FALSE(before.verify(after.issue({"u_1", "Ana", kFar}), 4'000).ok());
}

TEST(Tokens, ASupersededKeyVerifiesUntilTheNewerKeysCreatedTimePlusTheOverlap) {
  const TokenKey k1 = key("k1", 1'000, '1');
  const TokenKey k2 = key("k2", 5'000, '2');
  const TokenKey k3 = key("k3", 9'000, '3');
  const TokenSigner signer({k1, k2, k3}, 100);
  const std::string t1 = TokenSigner({k1}, 100).issue({"u_1", "Ana", kFar});
  const std::string t2 = TokenSigner({k1, k2}, 100).issue({"u_1", "Ana", kFar});
  const std::string t3 = signer.issue({"u_1", "Ana", kFar});
  ASSERT_TRUE(signer.verify(t1, 5'099).ok());  // k1 superseded by k2 at 5'000
  auto refused = signer.verify(t1, 5'100);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("retired"), std::string::npos) << refused.error();
  EXPECT_TRUE(signer.verify(t2, 9'099).ok());  // k2 superseded by k3 at 9'000
  EXPECT_FALSE(signer.verify(t2, 9'100).ok());
  EXPECT_TRUE(signer.verify(t3, kFar - 1).ok());  // the newest never retires
  // Overlap 0: a superseded key's tokens are refused from the newer key's created time on.
  EXPECT_TRUE(TokenSigner({k1, k2}, 0).verify(t1, 4'999).ok());
  EXPECT_FALSE(TokenSigner({k1, k2}, 0).verify(t1, 5'000).ok());
}

TEST(Tokens, ATokenOfAKeyNotInTheFileIsRefused) {
  const TokenSigner signer({key("k1", 1'000, 'a'), key("k2", 2'000, 'b')}, kFar);
  // Another cluster's key, and a key of the same id but other bytes.
  EXPECT_FALSE(
      signer.verify(TokenSigner({key("k9", 1, 'z')}, 0).issue({"u", "A", kFar}), 3'000).ok());
  EXPECT_FALSE(
      signer.verify(TokenSigner({key("k2", 1, 'z')}, 0).issue({"u", "A", kFar}), 3'000).ok());
  // A key removed from the file: its tokens are refused at once.
  const std::string t = TokenSigner({key("k1", 1'000, 'a')}, 0).issue({"u", "A", kFar});
  EXPECT_TRUE(signer.verify(t, 3'000).ok());
  EXPECT_FALSE(TokenSigner({key("k2", 2'000, 'b')}, kFar).verify(t, 3'000).ok());
}

// The first format: "v1.<payload>.<mac>", the key HMAC(cluster secret, fixed string).
const std::string kCookie = "s3cret";
std::string v1_key() {
  return hmac(kCookie, "minotaur user token key v1");
}

TEST(Tokens, FirstFormatTokensAreRefused) {
  const std::string signed_part = "v1." + payload("u_1");
  const std::string v1 = signed_part + "." + base64url_encode(hmac(v1_key(), signed_part));
  const TokenSigner signer({key("k1", 1'000, 'a')}, 0);
  auto r = signer.verify(v1, 2'000);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("create a new user"), std::string::npos) << r.error();
}

TEST(Tokens, ATokenForgedWithTheCookieDerivedKeyIsRefused) {
  // What the attack did, in the new format: a real key id, the MAC from the guessed cookie.
  const TokenSigner signer({key("k1", 1'000, 'a')}, 0);
  const std::string signed_part = "v2.k1." + payload("u_victim");
  const std::string forged = signed_part + "." + base64url_encode(hmac(v1_key(), signed_part));
  EXPECT_FALSE(signer.verify(forged, 2'000).ok());
  EXPECT_TRUE(signer.verify(signer.issue({"u_victim", "Vic", kFar}), 2'000).ok());
}

}  // namespace
}  // namespace minotaur::gateway
