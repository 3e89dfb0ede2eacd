// Join codes: the capital letters that name a lobby (e.g. "QXJRPT").
//
// A new code is kDefaultJoinCodeLength letters of kJoinCodeAlphabet, which leaves out the letters
// people mistake for others (L for I, Q for O): 24^6 = 191 million codes, so guessing one of a few
// hundred open lobbies takes about a million tries, and a node answers a client only 20 wrong codes
// and then one every 30 s (gateway/client_budgets.h). What a node reads is wider than what it
// writes: any 4 to 8 letters A-Z, so that codes made by earlier builds (4 letters, any letter)
// stay valid in a cluster that runs both, and a later build can lengthen codes again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace minotaur::game {

inline constexpr std::string_view kJoinCodeAlphabet = "ABCDEFGHIJKMNOPRSTUVWXYZ";
inline constexpr std::size_t kMinJoinCodeLength = 4;
inline constexpr std::size_t kMaxJoinCodeLength = 8;
inline constexpr std::size_t kDefaultJoinCodeLength = 6;

// The code of `length` letters (kMinJoinCodeLength..kMaxJoinCodeLength) for a 64-bit random
// number; the caller owns the randomness, the same number gives the same code, and callers retry
// on a collision with a live lobby.
std::string make_join_code(std::uint64_t random, std::size_t length = kDefaultJoinCodeLength);

// True for 4 to 8 letters A-Z.
bool is_join_code(std::string_view code);

// What a person typed ("qxjrpt", " QXJRPT ") as a code, or nullopt when it cannot be one. Lower
// case is read as upper case, and the digits that look like letters of the alphabet as those
// letters: 0 as O, 1 as I, 5 as S, 8 as B ("QX1R5T" is "QXIRST").
std::optional<std::string> normalize_join_code(std::string_view typed);

}  // namespace minotaur::game
