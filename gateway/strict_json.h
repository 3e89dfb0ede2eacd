// parse_strict_json: JSON from outside (HTTP bodies, WebSocket messages), parsed by Boost.JSON
// with two refusals it does not make by itself: a nesting deeper than `max_depth`, and an
// object that names the same key twice. Boost.JSON keeps one of the duplicates silently, so
// `{"type":"move","type":"attack"}` would mean whatever the parser's choice is; a client that
// sends that has a bug, and it is told so instead.
//
// Cost: the text is read twice (a key check over Boost's SAX parser, then the DOM parse); the
// bodies it reads are bounded by the server's limits (tens of KiB).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace minotaur::gateway {

// The value, or a message that says what is wrong ("the JSON names the key \"type\" twice").
Result<boost::json::value, std::string> parse_strict_json(std::string_view text,
                                                          std::size_t max_depth);

}  // namespace minotaur::gateway
