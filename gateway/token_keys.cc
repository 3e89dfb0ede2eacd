#include "gateway/token_keys.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>

#include "gateway/tokens.h"

namespace minotaur::gateway {
namespace {

constexpr std::size_t kMaxCreatedDigits = 15;  // past the year 30000 in ms
constexpr std::size_t kIdBytes = 6;            // 12 hex digits

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxTokenKeyIdChars) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

// The fields of one line, up to a field that starts a `#` comment.
std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size() || line[i] == '#') break;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    out.push_back(line.substr(start, i - start));
  }
  return out;
}

Result<std::string, std::string> random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return err(std::string(
        "OpenSSL's random generator failed (RAND_bytes); check that /dev/urandom is readable "
        "and try again"));
  }
  return out;
}

}  // namespace

Result<std::vector<TokenKey>, std::string> parse_token_keys(std::string_view text,
                                                            std::string_view source) {
  constexpr std::string_view make =
      "fix or delete the line (`minotaur token-keys new FILE` makes good keys)";
  if (text.size() > kMaxTokenKeysFileBytes) {
    return err(fmt::format("{} has {} bytes, more than {}; is it a token-keys file?", source,
                           text.size(), kMaxTokenKeysFileBytes));
  }
  std::vector<TokenKey> keys;
  std::map<std::string, std::size_t, std::less<>> line_of_id;
  std::map<std::int64_t, std::size_t> line_of_created;
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto f = fields_of(line);
    if (f.empty()) continue;
    const auto bad = [&](const std::string& what) {
      return err(fmt::format("{} line {}: {}", source, line_no, what));
    };
    if (f.size() != 3) {
      return bad(
          fmt::format("{} field(s), expected 3: '<key-id> <created-unix-ms> <base64url key>'; {}",
                      f.size(), make));
    }
    TokenKey key;
    if (!valid_id(f[0])) {
      return bad(fmt::format("key id '{}' must be 1 to {} letters, digits, '-' or '_'",
                             f[0].substr(0, 64), kMaxTokenKeyIdChars));
    }
    key.id = std::string(f[0]);
    const std::string_view created = f[1];
    const auto [end_ptr, ec] =
        std::from_chars(created.data(), created.data() + created.size(), key.created_at_ms);
    if (created.size() > kMaxCreatedDigits || created.front() < '0' || created.front() > '9' ||
        ec != std::errc() || end_ptr != created.data() + created.size()) {
      return bad(fmt::format(
          "created time '{}' is not a whole number of milliseconds since 1970 (at most {} "
          "digits)",
          created.substr(0, 64), kMaxCreatedDigits));
    }
    if (f[2].size() > 2 * kMaxTokenKeyBytes) {
      return bad(fmt::format("the key has more than {} bytes", kMaxTokenKeyBytes));
    }
    auto secret = base64url_decode(f[2]);
    if (!secret) {
      return bad(
          fmt::format("the key is not base64url (letters, digits, '-' and '_', no '='); {}", make));
    }
    if (secret.value().size() < kMinTokenKeyBytes) {
      return bad(fmt::format("the key has {} bytes; a key needs at least {} random bytes; {}",
                             secret.value().size(), kMinTokenKeyBytes, make));
    }
    if (secret.value().size() > kMaxTokenKeyBytes) {
      return bad(fmt::format("the key has more than {} bytes", kMaxTokenKeyBytes));
    }
    key.secret = std::move(secret.value());
    if (const auto it = line_of_id.find(key.id); it != line_of_id.end()) {
      return bad(fmt::format("key id '{}' is already the id of line {}; every key needs its own",
                             key.id, it->second));
    }
    if (const auto it = line_of_created.find(key.created_at_ms); it != line_of_created.end()) {
      return bad(fmt::format(
          "created time {} is already that of line {}; every key needs its own, so that one is "
          "the newest",
          key.created_at_ms, it->second));
    }
    if (keys.size() == kMaxTokenKeys) {
      return bad(fmt::format("more than {} keys; remove the ones whose tokens need not verify",
                             kMaxTokenKeys));
    }
    line_of_id.emplace(key.id, line_no);
    line_of_created.emplace(key.created_at_ms, line_no);
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    return err(fmt::format("{} holds no key; delete it and run `minotaur token-keys new {}`",
                           source, source));
  }
  return keys;
}

std::string format_token_key(const TokenKey& key) {
  return fmt::format("{} {} {}", key.id, key.created_at_ms, base64url_encode(key.secret));
}

Result<TokenKey, std::string> generate_token_key(std::int64_t created_at_ms,
                                                 const std::vector<TokenKey>& taken) {
  auto secret = random_bytes(kMinTokenKeyBytes);
  if (!secret) return err(secret.error());
  for (;;) {
    auto id = random_bytes(kIdBytes);
    if (!id) return err(id.error());
    std::string hex;
    for (const char c : id.value()) hex += fmt::format("{:02x}", static_cast<unsigned char>(c));
    const bool used =
        std::any_of(taken.begin(), taken.end(), [&](const TokenKey& k) { return k.id == hex; });
    if (!used) return TokenKey{std::move(hex), created_at_ms, std::move(secret.value())};
  }
}

std::int64_t token_key_retired_at_ms(const std::vector<TokenKey>& keys, const TokenKey& key,
                                     std::int64_t overlap_ms) {
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  std::int64_t superseded_at_ms = kNever;
  for (const TokenKey& k : keys) {
    if (k.created_at_ms > key.created_at_ms) {
      superseded_at_ms = std::min(superseded_at_ms, k.created_at_ms);
    }
  }
  if (superseded_at_ms == kNever) return kNever;
  MINOTAUR_ASSERT(overlap_ms >= 0);
  return superseded_at_ms > kNever - overlap_ms ? kNever : superseded_at_ms + overlap_ms;
}

TokenKeyRotation rotate_token_keys(const std::vector<TokenKey>& keys, const TokenKey& fresh,
                                   std::int64_t now_ms, std::int64_t overlap_ms) {
  std::vector<TokenKey> all = keys;
  for (const TokenKey& k : keys) MINOTAUR_ASSERT(k.created_at_ms < fresh.created_at_ms);
  all.push_back(fresh);
  std::sort(all.begin(), all.end(),
            [](const TokenKey& a, const TokenKey& b) { return a.created_at_ms > b.created_at_ms; });
  TokenKeyRotation out;
  for (const TokenKey& k : all) {
    auto& to = token_key_retired_at_ms(all, k, overlap_ms) > now_ms ? out.kept : out.dropped;
    to.push_back(k);
  }
  return out;
}

}  // namespace minotaur::gateway
