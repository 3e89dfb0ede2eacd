// HMAC-SHA256 and constant-time comparison, thin wrappers over OpenSSL's libcrypto.
//
// Used by the handshake (transport/handshake.h) to prove possession of the cluster secret
// without sending it. Stateless and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace minotaur::transport {

inline constexpr std::size_t kHmacBytes = 32;

using Mac = std::array<unsigned char, kHmacBytes>;

// HMAC-SHA256(key, data). A failure inside OpenSSL (out of memory) is treated as a bug.
Mac hmac_sha256(std::string_view key, std::string_view data);

// True when a and b have the same length and bytes; the time taken depends only on the length.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace minotaur::transport
