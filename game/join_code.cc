#include "game/join_code.h"

#include "base/assert.h"

namespace minotaur::game {

std::string make_join_code(std::uint64_t random, std::size_t length) {
  MINOTAUR_ASSERT(length >= kMinJoinCodeLength && length <= kMaxJoinCodeLength);
  std::string code(length, 'A');
  for (char& c : code) {
    c = kJoinCodeAlphabet[random % kJoinCodeAlphabet.size()];
    random /= kJoinCodeAlphabet.size();
  }
  return code;
}

bool is_join_code(std::string_view code) {
  if (code.size() < kMinJoinCodeLength || code.size() > kMaxJoinCodeLength) return false;
  for (const char c : code) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

std::optional<std::string> normalize_join_code(std::string_view typed) {
  while (!typed.empty() && typed.front() == ' ') typed.remove_prefix(1);
  while (!typed.empty() && typed.back() == ' ') typed.remove_suffix(1);
  std::string code(typed);
  for (char& c : code) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    switch (c) {
      case '0': c = 'O'; break;
      case '1': c = 'I'; break;
      case '5': c = 'S'; break;
      case '8': c = 'B'; break;
      default: break;
    }
  }
  if (!is_join_code(code)) return std::nullopt;
  return code;
}

}  // namespace minotaur::game
