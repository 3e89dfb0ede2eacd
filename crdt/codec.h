// Encoding of the sync protocol's messages (crdt/messages.h) as Protocol Buffers (crdt/sync.proto).
//
// Decoding takes bytes from another node: it is outside input. Every bound is checked (message
// size, counts, dot and range validity, bucket numbers) and bad bytes give an error value, never
// a crash; crdt/codec_fuzz.cc fuzzes it. What the decoder cannot see (an entry whose dot is
// outside its delta's context) is refused by AwlwwMap::join.
//
// encode() takes the message by value and moves keys and values into the protobuf message, so
// a moved-in message costs one copy of its payload (the serialisation). Pure functions, any
// thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"
#include "crdt/messages.h"

namespace minotaur::crdt {

struct WireLimits {
  std::size_t max_message_bytes = 64 << 20;
  std::size_t max_key_bytes = 4096;
  std::size_t max_value_bytes = 16 << 20;
  std::size_t max_replicas = 1 << 16;  // live_replicas of a digest
};

std::string encode(SyncMessage message);
Result<SyncMessage, std::string> decode(std::string_view bytes, const WireLimits& limits = {});

}  // namespace minotaur::crdt
