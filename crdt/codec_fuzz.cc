// Fuzz target: bytes from another node through the sync message decoder, and whatever decodes
// through a replica's receive(). Whatever the bytes, nothing crashes; whatever is accepted
// re-encodes and decodes to the same message; the replica's invariants hold after it.
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <string_view>

#include "base/assert.h"
#include "crdt/codec.h"
#include "crdt/sync_replica.h"

namespace {
const bool kQuietProtobuf = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace minotaur::crdt;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto message = decode(bytes);
  if (!message) return 0;
  auto again = decode(encode(message.value()));
  MINOTAUR_ASSERT(again.ok());
  MINOTAUR_ASSERT(again.value() == message.value());

  // A replica with some state of its own receives it from a neighbour (7 is a dot replica of the
  // committed seeds, so their deltas meet entries they can kill).
  SyncReplica r(1);
  MINOTAUR_ASSERT(r.add_neighbour(7, 0).ok());
  MINOTAUR_ASSERT(r.put("game_1", "state", 1000).ok());
  MINOTAUR_ASSERT(r.put("k", "v", 1000).ok());
  (void)r.receive(7, std::move(message).value(), 1000);
  r.tick(2000);
  (void)r.take_outbox();
  r.map().check_invariants();
  r.check_invariants();
  return 0;
}
