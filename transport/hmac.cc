#include "transport/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/assert.h"

namespace minotaur::transport {

Mac hmac_sha256(std::string_view key, std::string_view data) {
  MINOTAUR_ASSERT(key.size() <= static_cast<std::size_t>(INT32_MAX));
  Mac out{};
  unsigned int out_len = 0;
  const unsigned char* ok =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &out_len);
  MINOTAUR_ASSERT(ok != nullptr);
  MINOTAUR_ASSERT(out_len == kHmacBytes);
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace minotaur::transport
