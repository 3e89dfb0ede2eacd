// Placement: which node owns a session. A pure function of the session's key and the serving
// members, so every node computes the same owner without asking anyone (rendezvous hashing:
// the member with the highest hash(key, member) wins). When a member joins or leaves, only the
// sessions it wins or held move — about 1/N of them.
//
// Two nodes agree only when they see the same serving members; during a membership change they
// may briefly disagree, so a request can be forwarded twice (bounded by kMaxForwardHops) and a
// session transfer names the epoch it hands over, which the receiver checks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sessions/session_key.h"  // game_key, lobby_key: the keys placed

namespace minotaur::sessions {

// base/stable_hash.h over "a\xffb": stable across builds, versions and platforms.
std::uint64_t stable_hash(std::string_view a, std::string_view b);

// The owner of `key` among `members` (names); empty when there are none.
std::string owner_of(std::string_view key, const std::vector<std::string>& members);


}  // namespace minotaur::sessions
