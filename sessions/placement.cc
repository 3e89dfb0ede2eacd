#include "sessions/placement.h"

namespace minotaur::sessions {

std::uint64_t stable_hash(std::string_view a, std::string_view b) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto mix = [&h](std::string_view s) {
    for (const char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 0x100000001b3ULL;
    }
  };
  mix(a);
  h ^= 0xff;  // separator: ("ab","c") and ("a","bc") differ
  h *= 0x100000001b3ULL;
  mix(b);
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

std::string owner_of(std::string_view key, const std::vector<std::string>& members) {
  std::string best;
  std::uint64_t best_hash = 0;
  for (const std::string& m : members) {
    const std::uint64_t h = stable_hash(key, m);
    if (best.empty() || h > best_hash || (h == best_hash && m < best)) {
      best = m;
      best_hash = h;
    }
  }
  return best;
}

}  // namespace minotaur::sessions
