// Encoding of game/ state at rest: Protocol Buffers (game.proto), as sessions stash, replicate
// and hand it off. Decoding takes bytes from other nodes and from storage, so it checks
// everything (game::validate) and returns a clear error instead of trusting them.
//
// Encoding is deterministic: the same Game always gives the same bytes, and
// encode(decode(encode(g))) == encode(g).
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "game/game.h"
#include "game/lobby.h"

namespace minotaur::proto {

std::string encode_game(const game::Game& game);
Result<game::Game, std::string> decode_game(std::string_view bytes);

std::string encode_lobby(const game::Lobby& lobby);
Result<game::Lobby, std::string> decode_lobby(std::string_view bytes);

}  // namespace minotaur::proto
