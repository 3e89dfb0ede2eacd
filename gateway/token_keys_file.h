// Reading and writing a cluster's token-keys file (the format is in gateway/token_keys.h).
//
// `minotaur node --token-keys-file` loads it at start; `minotaur token-keys new FILE`, and the
// local clusters that `minotaur local`, the benchmark and the test harness start, create it or
// rotate it with new_token_key_in_file. Writes are whole-file: a new file is written beside the
// old one, flushed to disk and renamed over it, so a crash leaves the old file or the new one.
// Nothing locks the file: two rotations at once may lose one of the new keys (run one at a time).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "gateway/token_keys.h"

namespace minotaur::gateway {

// The keys of the file at `path`; an error that says what is wrong (the line, for a malformed
// one) and what to do.
Result<std::vector<TokenKey>, std::string> load_token_keys_file(const std::string& path);

// What new_token_key_in_file did, in words for the operator.
struct TokenKeysFileChange {
  TokenKey added;
  std::string report;
};

// Creates `path` (mode 0600) with one new key, or, when it exists, puts a new key first, keeps
// the keys that still verify at `now_ms` with `overlap_ms` and drops the retired ones. The new
// key's created time is `now_ms`, or just after the newest key's when the clock is behind it.
Result<TokenKeysFileChange, std::string> new_token_key_in_file(const std::string& path,
                                                               std::int64_t now_ms,
                                                               std::int64_t overlap_ms);

}  // namespace minotaur::gateway
