#include "handoff/stash.h"

namespace minotaur::handoff {

std::string encode_stashed(std::uint64_t epoch, bool is_game, std::string_view holder,
                           std::string_view state) {
  if (holder.size() > 255) holder = holder.substr(0, 255);  // names are at most 64 bytes
  std::string value;
  value.reserve(10 + holder.size() + state.size());
  for (int i = 0; i < 8; ++i) value.push_back(static_cast<char>(epoch >> (8 * i)));
  value.push_back(is_game ? 'G' : 'L');
  value.push_back(static_cast<char>(holder.size()));
  value.append(holder);
  value.append(state);
  return value;
}

std::optional<Stashed> decode_stashed(std::string_view value) {
  if (value.size() < 9) return std::nullopt;
  const char kind = value[8];
  if (kind != 'g' && kind != 'l' && kind != 'G' && kind != 'L') return std::nullopt;
  Stashed s;
  for (std::size_t i = 0; i < 8; ++i) {
    s.epoch |= static_cast<std::uint64_t>(static_cast<unsigned char>(value[i])) << (8 * i);
  }
  s.is_game = kind == 'g' || kind == 'G';
  if (kind == 'g' || kind == 'l') {
    s.state = value.substr(9);
    return s;
  }
  if (value.size() < 10) return std::nullopt;
  const std::size_t n = static_cast<unsigned char>(value[9]);
  if (value.size() < 10 + n) return std::nullopt;
  s.holder = value.substr(10, n);
  s.state = value.substr(10 + n);
  return s;
}

}  // namespace minotaur::handoff
