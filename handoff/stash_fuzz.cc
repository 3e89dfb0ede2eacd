// Fuzz target: a stashed value as it arrives from another node through the replicated store.
// Whatever the bytes, decoding never reads past them; what decodes re-encodes to the same value.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/assert.h"
#include "handoff/stash.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace minotaur::handoff;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto s = decode_stashed(bytes);
  if (!s) return 0;
  MINOTAUR_ASSERT(s->state.size() <= bytes.size());
  if (s->holder.empty() && s->moving_to.empty()) return 0;  // the first layout, or no holder
  const std::string again = encode_stashed(s->epoch, s->is_game, s->holder, s->state, s->moving_to);
  MINOTAUR_ASSERT(again == bytes);
  return 0;
}
