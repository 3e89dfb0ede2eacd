// Join codes: 4 capital letters that name a lobby (e.g. "QXJR").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace minotaur::game {

inline constexpr std::size_t kJoinCodeLength = 4;

// The code for a 64-bit random number (the caller owns the randomness; the same number gives
// the same code). 26^4 = 456,976 codes: callers retry on a collision with a live lobby.
std::string make_join_code(std::uint64_t random);

// True for exactly 4 letters A-Z.
bool is_join_code(std::string_view code);

// What a person typed ("qxjr", " QXJR ") as a code, or nullopt when it cannot be one.
std::optional<std::string> normalize_join_code(std::string_view typed);

}  // namespace minotaur::game
