// UTF-8, read strictly: shortest forms only, no surrogates, nothing past U+10FFFF. For what
// comes from outside (a display name, a log line's text) and must be valid before it goes on.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace minotaur {

// The code point that starts at s[i], advancing `i` past it; nullopt (and `i` unchanged) when
// the bytes there are not valid UTF-8. i < s.size().
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i);

}  // namespace minotaur
