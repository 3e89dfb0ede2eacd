#include "handoff/stash.h"

namespace minotaur::handoff {

std::string encode_stashed(std::uint64_t epoch, bool is_game, std::string_view holder,
                           std::string_view state, std::string_view moving_to) {
  if (holder.size() > 255) holder = holder.substr(0, 255);  // names are at most 64 bytes
  if (moving_to.size() > 255) moving_to = moving_to.substr(0, 255);
  const bool moving = !moving_to.empty();
  std::string value;
  value.reserve(11 + holder.size() + moving_to.size() + state.size());
  for (int i = 0; i < 8; ++i) value.push_back(static_cast<char>(epoch >> (8 * i)));
  value.push_back(moving ? (is_game ? 'M' : 'N') : (is_game ? 'G' : 'L'));
  value.push_back(static_cast<char>(holder.size()));
  value.append(holder);
  if (moving) {
    value.push_back(static_cast<char>(moving_to.size()));
    value.append(moving_to);
  }
  value.append(state);
  return value;
}

std::optional<Stashed> decode_stashed(std::string_view value) {
  if (value.size() < 9) return std::nullopt;
  const char kind = value[8];
  if (kind != 'g' && kind != 'l' && kind != 'G' && kind != 'L' && kind != 'M' && kind != 'N') {
    return std::nullopt;
  }
  Stashed s;
  for (std::size_t i = 0; i < 8; ++i) {
    s.epoch |= static_cast<std::uint64_t>(static_cast<unsigned char>(value[i])) << (8 * i);
  }
  s.is_game = kind == 'g' || kind == 'G' || kind == 'M';
  if (kind == 'g' || kind == 'l') {
    s.state = value.substr(9);
    return s;
  }
  std::size_t at = 9;
  // A length byte and that many bytes, or nullopt when the value ends before.
  auto field = [&]() -> std::optional<std::string_view> {
    if (value.size() < at + 1) return std::nullopt;
    const std::size_t n = static_cast<unsigned char>(value[at]);
    if (value.size() < at + 1 + n) return std::nullopt;
    const std::string_view f = value.substr(at + 1, n);
    at += 1 + n;
    return f;
  };
  const auto holder = field();
  if (!holder) return std::nullopt;
  s.holder = *holder;
  if (kind == 'M' || kind == 'N') {
    const auto to = field();
    if (!to || to->empty()) return std::nullopt;
    s.moving_to = *to;
  }
  s.state = value.substr(at);
  return s;
}

}  // namespace minotaur::handoff
