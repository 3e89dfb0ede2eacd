#include "gateway/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <boost/json.hpp>

#include "gateway/json_fields.h"

namespace minotaur::gateway {
namespace {

constexpr std::string_view kPrefix = "v2.";
// The first format, signed with a key derived from the cluster secret: never valid again.
constexpr std::string_view kRetiredPrefix = "v1.";
constexpr std::size_t kMaxTokenBytes = 1024;

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const unsigned char* r =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  MINOTAUR_ASSERT(r != nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64url_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Result<std::string, std::string> base64url_decode(std::string_view text) {
  std::string in(text);
  for (char& c : in) {
    if (c == '-') {
      c = '+';
    } else if (c == '_') {
      c = '/';
    } else if (c == '+' || c == '/' || c == '=') {
      return err(std::string("not base64url"));
    }
  }
  const std::size_t pad = (4 - in.size() % 4) % 4;
  if (pad == 3) return err(std::string("not base64url"));
  in.append(pad, '=');
  std::string out(3 * in.size() / 4 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return err(std::string("not base64url"));
  out.resize(static_cast<std::size_t>(n) - pad);  // EVP_DecodeBlock counts padding as zeros
  return out;
}

TokenSigner::TokenSigner(std::vector<TokenKey> keys, std::int64_t overlap_ms) {
  MINOTAUR_ASSERT(!keys.empty());
  MINOTAUR_ASSERT(overlap_ms >= 0);
  for (const TokenKey& k : keys) {
    keys_.push_back({k, token_key_retired_at_ms(keys, k, overlap_ms)});
  }
  std::sort(keys_.begin(), keys_.end(), [](const Verifier& a, const Verifier& b) {
    return a.key.created_at_ms > b.key.created_at_ms;
  });
}

std::string TokenSigner::issue(const TokenClaims& c) const {
  const TokenKey& key = keys_.front().key;
  const boost::json::object payload{
      {"u", c.user_id}, {"n", c.display_name}, {"e", c.expires_at_ms}};
  std::string signed_part =
      std::string(kPrefix) + key.id + "." + base64url_encode(boost::json::serialize(payload));
  return signed_part + "." + base64url_encode(hmac_sha256(key.secret, signed_part));
}

Result<TokenClaims, std::string> TokenSigner::verify(std::string_view token,
                                                     std::int64_t now_ms) const {
  const auto bad = [] {
    return err(
        std::string("the bearer token is not valid; create a user with POST /api/v1/users "
                    "and send its token"));
  };
  if (token.size() > kMaxTokenBytes) return bad();
  if (token.substr(0, kRetiredPrefix.size()) == kRetiredPrefix) {
    return err(
        std::string("the bearer token is of a format no longer accepted; create a new user "
                    "with POST /api/v1/users"));
  }
  if (token.substr(0, kPrefix.size()) != kPrefix) return bad();
  const std::size_t kid_end = token.find('.', kPrefix.size());
  const std::size_t dot = token.rfind('.');
  if (kid_end == std::string_view::npos || dot <= kid_end) return bad();
  const std::string_view kid = token.substr(kPrefix.size(), kid_end - kPrefix.size());
  const auto v =
      std::find_if(keys_.begin(), keys_.end(), [&](const Verifier& k) { return k.key.id == kid; });
  if (v == keys_.end()) return bad();  // never one of this cluster's keys, or removed
  const std::string_view signed_part = token.substr(0, dot);
  const std::string mac = base64url_encode(hmac_sha256(v->key.secret, signed_part));
  if (!constant_time_equal(mac, token.substr(dot + 1))) return bad();
  if (v->retired_at_ms <= now_ms) {
    return err(
        std::string("the bearer token was signed with a key that has been retired; create a "
                    "new user with POST /api/v1/users"));
  }
  auto payload = base64url_decode(signed_part.substr(kid_end + 1));
  if (!payload) return bad();
  boost::system::error_code ec;
  const boost::json::value j = boost::json::parse(payload.value(), ec);
  if (ec || !j.is_object()) return bad();
  const JsonFields f(j.get_object(), "");
  auto user = f.require_string("u");
  auto name = f.require_string("n");
  auto exp = f.require_int("e", 0, INT64_MAX);
  if (!user || !name || !exp) return bad();
  if (exp.value() <= now_ms) {
    return err(
        std::string("the bearer token has expired; create a new user with POST "
                    "/api/v1/users"));
  }
  return TokenClaims{std::move(user.value()), std::move(name.value()), exp.value()};
}

}  // namespace minotaur::gateway
