#include "tooling/cluster_secrets.h"

#include <openssl/rand.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "base/write_file.h"
#include "gateway/token_keys_file.h"
#include "gateway/tokens.h"

namespace minotaur::tooling {
namespace {

Result<std::string, std::string> random_base64url(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return err(std::string("OpenSSL's random generator failed (RAND_bytes); try again"));
  }
  return gateway::base64url_encode(raw);
}

// The first line of a file written before, or empty when there is none.
std::string kept_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

Result<ClusterSecrets, std::string> write_cluster_secrets(const std::string& dir,
                                                          const std::string& admin_token) {
  ClusterSecrets s{dir + "/cookie", dir + "/token-keys", dir + "/admin-token", admin_token, ""};
  // A folder used before keeps its secret: the nodes' data dirs belong to that cluster.
  s.cookie = kept_line(s.cookie_file);
  if (s.cookie.empty()) {
    auto cookie = random_base64url(32);
    if (!cookie) return err(cookie.error());
    s.cookie = cookie.value();
    if (auto w = write_file_atomically(s.cookie_file, s.cookie + "\n", 0600); !w) {
      return err(w.error());
    }
  }
  if (s.admin_token.empty()) s.admin_token = kept_line(s.admin_token_file);
  if (s.admin_token.empty()) {
    auto admin = random_base64url(16);
    if (!admin) return err(admin.error());
    s.admin_token = std::move(admin.value());
  }
  if (auto w = write_file_atomically(s.admin_token_file, s.admin_token + "\n", 0600); !w) {
    return err(w.error());
  }
  if (std::filesystem::exists(s.token_keys_file)) {
    auto kept = gateway::load_token_keys_file(s.token_keys_file);
    if (!kept) return err(kept.error() + "; or remove the file to start with a new key");
    return s;
  }
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  auto made = gateway::new_token_key_in_file(s.token_keys_file, now_ms, gateway::kTokenLifetimeMs);
  if (!made) return err(made.error());
  return s;
}

}  // namespace minotaur::tooling
