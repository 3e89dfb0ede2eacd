#include "gateway/tokens.h"

#include <gtest/gtest.h>

namespace minotaur::gateway {
namespace {

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

TEST(Tokens, AWellSignedTokenCarriesItsClaims) {
  const TokenSigner signer("secret");
  const std::string t = signer.issue({"u_1", "Ana", 2'000});
  auto c = signer.verify(t, 1'000);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c.value().user_id, "u_1");
  EXPECT_EQ(c.value().display_name, "Ana");
  EXPECT_EQ(c.value().expires_at_ms, 2'000);
}

TEST(Tokens, RefusesExpiredForgedAndForeignTokens) {
  const TokenSigner signer("secret");
  const std::string t = signer.issue({"u_1", "Ana", 2'000});
  EXPECT_FALSE(signer.verify(t, 2'000).ok());                // expired
  EXPECT_FALSE(TokenSigner("other").verify(t, 1'000).ok());  // another cluster's
  std::string flipped = t;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';  // payload changed
  EXPECT_FALSE(signer.verify(flipped, 1'000).ok());
  const std::string other = signer.issue({"u_2", "Bo", 2'000});  // mac of another token
  EXPECT_FALSE(
      signer.verify(t.substr(0, t.rfind('.')) + other.substr(other.rfind('.')), 1'000).ok());
  for (const char* junk : {"", "v1.", "v1..", "x.y.z", "v1.e30.", "Bearer"}) {
    EXPECT_FALSE(signer.verify(junk, 1'000).ok()) << junk;
  }
}

}  // namespace
}  // namespace minotaur::gateway
