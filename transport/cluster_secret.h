// The rule for a cluster secret, the cookie all nodes of a cluster share (docs/SPEC.md section 2).
//
// The secret authenticates nodes to each other (transport/handshake.h), so whoever guesses it
// joins the cluster as a node. A guess needs nothing but time: nothing limits offline attempts
// against a recorded handshake. So a node refuses, at start, a secret that is
//   - shorter than 32 bytes,
//   - made of fewer than 10 distinct byte values ("aaaa...", "passwordpassword..."), or
//   - one piece repeated, of at most half its length ("0123456789abcdef0123456789abcdef").
// This is a floor, not a measure of entropy: a long English sentence passes and is still
// guessable. The advice in the refusal is the real rule: 32 bytes from /dev/urandom.
// Trailing and leading white space is not part of the secret (the cookie file is read trimmed).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace minotaur::transport {

inline constexpr std::size_t kMinSecretBytes = 32;
inline constexpr std::size_t kMinSecretDistinctBytes = 10;

// Ok for a secret that passes the rule above; otherwise what is wrong and how to make a good one.
Result<Ok, std::string> check_cluster_secret(std::string_view secret);

}  // namespace minotaur::transport
