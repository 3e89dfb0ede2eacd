// Fuzz target: an HTTP body through the JSON readers of the API. Whatever the bytes, nothing
// crashes, and whatever is accepted encodes back to the same game.
#include <cstdint>
#include <string_view>

#include "base/assert.h"
#include "gateway/game_json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace minotaur;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto json = gateway::parse_json(body);
  if (!json) return 0;
  (void)gateway::action_from_json(json.value());
  auto game = gateway::game_from_json(json.value());
  if (game) {
    auto again = gateway::game_from_json(boost::json::value(gateway::to_json(game.value())));
    MINOTAUR_ASSERT(again.ok());
    MINOTAUR_ASSERT(again.value() == game.value());
  }
  return 0;
}
