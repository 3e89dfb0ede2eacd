#include "gateway/token_keys_file.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>

#include "base/write_file.h"

namespace minotaur::gateway {
namespace {

constexpr std::string_view kHeader =
    "# Minotaur token signing keys, newest first: <key-id> <created-unix-ms> <base64url key>.\n"
    "# The newest key signs players' tokens; an older one verifies them until the next newer\n"
    "# key's created time plus --token-key-overlap-ms. Give every node of the cluster this file\n"
    "# (--token-keys-file). Rotate with `minotaur token-keys new FILE` (it rewrites the file and\n"
    "# keeps no comments); delete the line of a leaked key to refuse its tokens at once.\n";

std::string when(std::int64_t ms) {
  if (ms == std::numeric_limits<std::int64_t>::max()) return "for ever";
  const std::time_t s = static_cast<std::time_t>(ms / 1000);
  return fmt::format("until {:%Y-%m-%d %H:%M:%S} UTC", fmt::gmtime(s));
}

std::string ids_of(const std::vector<TokenKey>& keys) {
  std::string out;
  for (const TokenKey& k : keys) out += (out.empty() ? "" : ", ") + k.id;
  return out;
}

std::string file_text(const std::vector<TokenKey>& keys) {
  std::string out(kHeader);
  for (const TokenKey& k : keys) out += format_token_key(k) + "\n";
  return out;
}

}  // namespace

Result<std::vector<TokenKey>, std::string> load_token_keys_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return err(fmt::format(
        "cannot read the token-keys file {}: {}; create it with `minotaur token-keys new {}` "
        "and give every node of the cluster the same file",
        path, std::strerror(errno), path));
  }
  std::string text(kMaxTokenKeysFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_token_keys(text, path);
}

Result<TokenKeysFileChange, std::string> new_token_key_in_file(const std::string& path,
                                                               std::int64_t now_ms,
                                                               std::int64_t overlap_ms) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return err(fmt::format("cannot look at {}: {}; check the path and its permissions", path,
                             std::strerror(errno)));
    }
    auto key = generate_token_key(now_ms);
    if (!key) return err(key.error());
    if (auto w = write_file_atomically(path, file_text({key.value()}), 0600); !w)
      return err(w.error());
    std::string report = fmt::format(
        "created {} (mode 0600) with key {}; give every node of the cluster the same file: "
        "minotaur node --token-keys-file {}",
        path, key.value().id, path);
    return TokenKeysFileChange{std::move(key.value()), std::move(report)};
  }
  auto keys = load_token_keys_file(path);
  if (!keys) return err(keys.error() + "; fix the file before adding a key to it");
  std::int64_t created_ms = now_ms;
  for (const TokenKey& k : keys.value()) created_ms = std::max(created_ms, k.created_at_ms + 1);
  auto key = generate_token_key(created_ms, keys.value());
  if (!key) return err(key.error());
  const TokenKeyRotation r = rotate_token_keys(keys.value(), key.value(), now_ms, overlap_ms);
  if (auto w = write_file_atomically(path, file_text(r.kept), st.st_mode & 0777); !w) {
    return err(w.error());
  }
  std::string report = fmt::format(
      "added key {} to {}: it signs new tokens once every node is restarted with the file "
      "(a rolling deploy)",
      key.value().id, path);
  for (std::size_t i = 1; i < r.kept.size(); ++i) {
    report += fmt::format("\nkept key {}: it verifies tokens {}", r.kept[i].id,
                          when(token_key_retired_at_ms(r.kept, r.kept[i], overlap_ms)));
  }
  if (!r.dropped.empty()) {
    report += fmt::format("\ndropped retired key(s) {}: their tokens are refused already",
                          ids_of(r.dropped));
  }
  return TokenKeysFileChange{std::move(key.value()), std::move(report)};
}

}  // namespace minotaur::gateway
