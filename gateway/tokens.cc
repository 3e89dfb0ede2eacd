#include "gateway/tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>

#include "gateway/json_fields.h"

namespace minotaur::gateway {
namespace {

constexpr std::string_view kPrefix = "v1.";
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

TokenSigner::TokenSigner(std::string_view cluster_secret)
    : key_(hmac_sha256(cluster_secret, "minotaur user token key v1")) {}

std::string TokenSigner::mac(std::string_view data) const {
  return base64url_encode(hmac_sha256(key_, data));
}

std::string TokenSigner::issue(const TokenClaims& c) const {
  const boost::json::object payload{
      {"u", c.user_id}, {"n", c.display_name}, {"e", c.expires_at_ms}};
  std::string signed_part =
      std::string(kPrefix) + base64url_encode(boost::json::serialize(payload));
  return signed_part + "." + mac(signed_part);
}

Result<TokenClaims, std::string> TokenSigner::verify(std::string_view token,
                                                     std::int64_t now_ms) const {
  const auto bad = [] {
    return err(
        std::string("the bearer token is not valid; create a user with POST /api/v1/users "
                    "and send its token"));
  };
  if (token.size() > kMaxTokenBytes || token.substr(0, kPrefix.size()) != kPrefix) return bad();
  const std::size_t dot = token.rfind('.');
  if (dot < kPrefix.size()) return bad();
  const std::string_view signed_part = token.substr(0, dot);
  if (!constant_time_equal(mac(signed_part), token.substr(dot + 1))) return bad();
  auto payload = base64url_decode(signed_part.substr(kPrefix.size()));
  if (!payload) return bad();
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(payload.value(), ec);
  if (ec || !v.is_object()) return bad();
  const JsonFields f(v.get_object(), "");
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
