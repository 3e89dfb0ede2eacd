#include "transport/cluster_secret.h"

#include <fmt/format.h>

#include <bitset>

namespace minotaur::transport {
namespace {

constexpr std::string_view kHowTo =
    "make one with `head -c 32 /dev/urandom | base64 > cookie` and give every node of the "
    "cluster the same file with --cookie-file (or its contents in MINOTAUR_COOKIE)";

// The shortest period p (s[i] == s[i - p] for every i >= p); s.size() when there is none.
std::size_t shortest_period(std::string_view s) {
  for (std::size_t p = 1; p < s.size(); ++p) {
    bool repeats = true;
    for (std::size_t i = p; i < s.size() && repeats; ++i) repeats = s[i] == s[i - p];
    if (repeats) return p;
  }
  return s.size();
}

}  // namespace

Result<Ok, std::string> check_cluster_secret(std::string_view secret) {
  if (secret.size() < kMinSecretBytes) {
    return err(fmt::format("the cluster secret has {} bytes; it needs at least {}: {}",
                           secret.size(), kMinSecretBytes, kHowTo));
  }
  std::bitset<256> seen;
  for (const char c : secret) seen.set(static_cast<unsigned char>(c));
  if (seen.count() < kMinSecretDistinctBytes) {
    return err(fmt::format(
        "the cluster secret is too easy to guess: it has only {} distinct characters (at least "
        "{} needed); {}",
        seen.count(), kMinSecretDistinctBytes, kHowTo));
  }
  if (const std::size_t p = shortest_period(secret); 2 * p <= secret.size()) {
    return err(fmt::format(
        "the cluster secret is too easy to guess: it repeats its first {} characters; {}", p,
        kHowTo));
  }
  return Ok{};
}

}  // namespace minotaur::transport
