#include "sessions/placement.h"

#include "base/stable_hash.h"

namespace minotaur::sessions {

std::uint64_t stable_hash(std::string_view a, std::string_view b) {
  std::string joined;
  joined.reserve(a.size() + 1 + b.size());
  joined.append(a).push_back('\xff');  // separator: ("ab","c") and ("a","bc") differ
  joined.append(b);
  return minotaur::stable_hash(joined);
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
