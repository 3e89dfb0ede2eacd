// Fuzz target: bytes from another node or from storage through the state decoders. Whatever the
// bytes, nothing crashes; whatever is accepted re-encodes and decodes to the same state.
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <string_view>

#include "base/assert.h"
#include "proto/codec.h"

namespace {
// Invalid UTF-8 in a string field is refused by the parser, which also logs it; thousands of
// such lines would drown the fuzzer's own output.
const bool kQuietProtobuf = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace minotaur;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  if (auto game = proto::decode_game(bytes)) {
    auto again = proto::decode_game(proto::encode_game(game.value()));
    MINOTAUR_ASSERT(again.ok());
    MINOTAUR_ASSERT(again.value() == game.value());
  }
  if (auto lobby = proto::decode_lobby(bytes)) {
    auto again = proto::decode_lobby(proto::encode_lobby(lobby.value()));
    MINOTAUR_ASSERT(again.ok());
    MINOTAUR_ASSERT(again.value() == lobby.value());
  }
  return 0;
}
