#include "handoff/stash.h"

namespace minotaur::handoff {

std::string encode_stashed(std::uint64_t epoch, bool is_game, std::string_view state) {
  std::string value;
  value.reserve(9 + state.size());
  for (int i = 0; i < 8; ++i) value.push_back(static_cast<char>(epoch >> (8 * i)));
  value.push_back(is_game ? 'g' : 'l');
  value.append(state);
  return value;
}

std::optional<Stashed> decode_stashed(std::string_view value) {
  if (value.size() < 9 || (value[8] != 'g' && value[8] != 'l')) return std::nullopt;
  Stashed s;
  for (std::size_t i = 0; i < 8; ++i) {
    s.epoch |= static_cast<std::uint64_t>(static_cast<unsigned char>(value[i])) << (8 * i);
  }
  s.is_game = value[8] == 'g';
  s.state = value.substr(9);
  return s;
}

}  // namespace minotaur::handoff
