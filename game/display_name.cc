#include "game/display_name.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>

#include "base/utf8.h"
#include "game/validate.h"

namespace minotaur::game {
namespace {

bool changes_how_text_shows(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) ||  // C0, DEL, C1
         c == 0x061C ||                           // Arabic letter mark
         (c >= 0x200B && c <= 0x200F) ||          // zero-width, LRM, RLM
         (c >= 0x2028 && c <= 0x202E) ||          // separators, embeddings, overrides
         (c >= 0x2060 && c <= 0x206F) ||          // word joiner, isolates, invisible operators
         c == 0xFEFF;                             // byte-order mark
}

bool is_space(char32_t c) {
  return c == ' ' || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

}  // namespace

Result<Ok, std::string> check_display_name(std::string_view name) {
  const std::string rule = fmt::format(
      "a display name is 1 to {} characters, without control or text-direction characters",
      kMaxDisplayNameChars);
  if (name.empty() || name.size() > kMaxDisplayNameBytes) return err(rule);
  std::size_t chars = 0;
  char32_t first = 0;
  char32_t last = 0;
  for (std::size_t i = 0; i < name.size();) {
    auto c = next_code_point(name, i);
    if (!c) return err("the display name is not valid UTF-8; " + rule);
    if (changes_how_text_shows(*c)) return err(rule);
    if (chars == 0) first = *c;
    last = *c;
    ++chars;
  }
  if (chars > kMaxDisplayNameChars) return err(rule);
  if (is_space(first) || is_space(last)) {
    return err(std::string("remove the spaces at the start or end of the display name"));
  }
  return Ok{};
}

}  // namespace minotaur::game
