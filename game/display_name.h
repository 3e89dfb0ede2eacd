// The rule for a display name a user picks (POST /api/v1/users): what every other player's page
// shows next to that user's hex.
//
// 1 to 32 characters (Unicode code points, at most 64 bytes of UTF-8), no white space at either
// end, and none of the characters that change how the text around them is shown: C0 and C1
// controls, DEL, the bidirectional overrides, embeddings and isolates (a name with U+202E shows
// the names after it reversed), the line and paragraph separators, zero-width characters and
// the byte-order mark. Markup such as "<b>" is allowed: the page renders names as text.
//
// Only new names are checked: a state written earlier (a stored game, a peer's) is decoded
// under game/validate.h's looser rule, so a name accepted once is never refused later.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace minotaur::game {

inline constexpr std::size_t kMaxDisplayNameChars = 32;

// Ok, or a message for the user that says what to change.
Result<Ok, std::string> check_display_name(std::string_view name);

}  // namespace minotaur::game
