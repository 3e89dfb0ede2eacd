#include "game/join_code.h"

namespace minotaur::game {

std::string make_join_code(std::uint64_t random) {
  std::string code(kJoinCodeLength, 'A');
  for (char& c : code) {
    c = static_cast<char>('A' + random % 26);
    random /= 26;
  }
  return code;
}

bool is_join_code(std::string_view code) {
  if (code.size() != kJoinCodeLength) return false;
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
  }
  if (!is_join_code(code)) return std::nullopt;
  return code;
}

}  // namespace minotaur::game
