// Signed bearer tokens for users (SPEC.md section 3, POST /api/v1/users).
//
// A token is "v1.<payload>.<mac>": payload is base64url JSON {"u": user id, "n": display name,
// "e": expiry in ms since the epoch}, mac is base64url HMAC-SHA256 over "v1.<payload>" with a key
// derived from the cluster secret — so every node verifies every token without asking anyone,
// and nothing is stored. Verification compares in constant time. A token cannot be revoked before
// it expires (admit it: that is the price of statelessness); expiry defaults to 30 days.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace minotaur::gateway {

struct TokenClaims {
  std::string user_id;
  std::string display_name;
  std::int64_t expires_at_ms = 0;
};

class TokenSigner {
 public:
  explicit TokenSigner(std::string_view cluster_secret);

  std::string issue(const TokenClaims& claims) const;
  // The claims of a well-signed, unexpired token; an error message otherwise.
  Result<TokenClaims, std::string> verify(std::string_view token, std::int64_t now_ms) const;

 private:
  std::string mac(std::string_view data) const;
  std::string key_;
};

std::string base64url_encode(std::string_view bytes);
Result<std::string, std::string> base64url_decode(std::string_view text);

// Compares in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace minotaur::gateway
