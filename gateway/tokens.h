// Signed bearer tokens for users (docs/SPEC.md section 3, "Users and tokens").
//
// A token is "v2.<kid>.<payload>.<mac>": kid names the key that signed it, payload is base64url
// JSON {"u": user id, "n": display name, "e": expiry in ms since the epoch}, mac is base64url
// HMAC-SHA256 over "v2.<kid>.<payload>" with that key. The keys come from the cluster's
// token-keys file (gateway/token_keys.h: random keys, never derived from the cluster secret, with
// rotation), so every node verifies every token without asking anyone, and nothing is stored.
// Verification compares in constant time. Tokens of the first format ("v1.", signed with a key
// derived from the cluster secret, which a weak secret gave away) are refused: the client creates
// a new user. A token cannot be revoked before it expires except by removing its key from the
// file, which refuses every token of that key (admit it: that is the price of statelessness);
// expiry defaults to 30 days (kTokenLifetimeMs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "gateway/token_keys.h"

namespace minotaur::gateway {

struct TokenClaims {
  std::string user_id;
  std::string display_name;
  std::int64_t expires_at_ms = 0;
};

// Immutable after construction, so any thread may call it.
class TokenSigner {
 public:
  // `keys` as parse_token_keys returns them: at least one, distinct ids and created times. The
  // newest signs; an older one verifies until token_key_retired_at_ms(keys, it, overlap_ms).
  TokenSigner(std::vector<TokenKey> keys, std::int64_t overlap_ms);

  std::string issue(const TokenClaims& claims) const;
  // The claims of a well-signed, unexpired token of a key that still verifies; an error message
  // otherwise.
  Result<TokenClaims, std::string> verify(std::string_view token, std::int64_t now_ms) const;

  const std::string& signing_key_id() const { return keys_.front().key.id; }

 private:
  struct Verifier {
    TokenKey key;
    std::int64_t retired_at_ms = 0;
  };
  std::vector<Verifier> keys_;  // newest first
};

std::string base64url_encode(std::string_view bytes);
Result<std::string, std::string> base64url_decode(std::string_view text);

// Compares in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace minotaur::gateway
