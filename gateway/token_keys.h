// The keys that sign and verify players' tokens (gateway/tokens.h), and their text file.
//
// A cluster's keys live in one file that every node is given (`minotaur node --token-keys-file`)
// and that `minotaur token-keys new FILE` creates and rotates (gateway/token_keys_file.h). They
// are independent of the cluster secret: a token, which anyone can get from POST /api/v1/users,
// tells nothing about the secret that admits nodes, and a key is 32 random bytes, so it cannot be
// guessed offline from a token.
//
// The file is text, one key per line; blank lines and `#` comments are allowed:
//
//     <key-id> <created-unix-ms> <base64url of at least 32 random bytes>
//
// The newest key (highest created time) signs. Every key verifies, but a key superseded by a
// newer one verifies only until the newer one's created time plus the overlap
// (`--token-key-overlap-ms`, by default the token lifetime, so no token dies before it expires
// because of a rotation). Removing a key from the file refuses its tokens at once: the remedy for
// a leaked key. Weakness: a rotation reaches the nodes with a restart, so during a rolling deploy
// a token signed with the new key is refused by the nodes not restarted yet.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace minotaur::gateway {

inline constexpr std::int64_t kTokenLifetimeMs = 30LL * 24 * 3600 * 1000;  // 30 days
inline constexpr std::size_t kMinTokenKeyBytes = 32;
inline constexpr std::size_t kMaxTokenKeyBytes = 1024;
inline constexpr std::size_t kMaxTokenKeyIdChars = 32;
inline constexpr std::size_t kMaxTokenKeys = 100;
inline constexpr std::size_t kMaxTokenKeysFileBytes = 64 * 1024;

struct TokenKey {
  std::string id;  // letters, digits, '-' and '_'; named in every token it signs
  std::int64_t created_at_ms = 0;
  std::string secret;  // the raw bytes
};

// The keys of a keys file's text, in the file's order. `source` names the file in errors, which
// say which line is wrong, how, and what to do. At least one key; ids and created times are
// distinct (so exactly one key is newest).
Result<std::vector<TokenKey>, std::string> parse_token_keys(std::string_view text,
                                                            std::string_view source);

// One line of a keys file (without the newline).
std::string format_token_key(const TokenKey& key);

// A new key: 32 bytes from OpenSSL's RAND_bytes, a random id unlike any in `taken`. An error only
// when the random generator fails.
Result<TokenKey, std::string> generate_token_key(std::int64_t created_at_ms,
                                                 const std::vector<TokenKey>& taken = {});

// From when tokens signed with `key` (one of `keys`) are refused: the created time of the next
// newer key in `keys` plus `overlap_ms`; INT64_MAX for the newest key.
std::int64_t token_key_retired_at_ms(const std::vector<TokenKey>& keys, const TokenKey& key,
                                     std::int64_t overlap_ms);

// `keys` after adding `fresh` (which must be newer than every one of them) and dropping the keys
// retired at `now_ms`: newest first.
struct TokenKeyRotation {
  std::vector<TokenKey> kept;     // `fresh` first, then the older keys that still verify
  std::vector<TokenKey> dropped;  // retired: they verify nothing any more
};
TokenKeyRotation rotate_token_keys(const std::vector<TokenKey>& keys, const TokenKey& fresh,
                                   std::int64_t now_ms, std::int64_t overlap_ms);

}  // namespace minotaur::gateway
