// The range of cluster protocol versions a node speaks, as its handshake states it
// (transport/wire.proto Hello: min_protocol_version, protocol_version).
//
// A protocol version names what goes over the cluster port after the handshake: the envelopes
// and every layer's messages in them. A build speaks a range so that a rolling deploy can put a
// build that speaks N and N+1 beside one that speaks N only; two nodes talk at the highest
// version both speak, and refuse each other when they share none (transport/handshake.h).
// Version 1 is the first; 0 is never a version: it is what a field an older build never sent
// reads as.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace minotaur::transport {

struct ProtocolRange {
  std::uint32_t min = 0;
  std::uint32_t max = 0;
  friend bool operator==(const ProtocolRange&, const ProtocolRange&) = default;
};

// 1 <= min <= max.
bool valid_protocol_range(const ProtocolRange& r);

// The range a peer's Hello states. Builds from before the range was sent leave both fields 0:
// they speak protocol 1. A Hello that names a newest version but no oldest one speaks from 1 up.
// nullopt when the fields contradict themselves (oldest above newest): a malformed Hello.
std::optional<ProtocolRange> peer_protocol_range(std::uint32_t min_field, std::uint32_t max_field);

// The versions both ranges speak; nullopt when they share none.
std::optional<ProtocolRange> common_protocol_range(const ProtocolRange& a, const ProtocolRange& b);

// "1-2", or "1" for a range of one version.
std::string to_string(const ProtocolRange& r);

// Reads "MIN-MAX" or "N" (the testing override, minotaur node --unsafe-protocol-range); the
// error says what a valid value looks like.
Result<ProtocolRange, std::string> parse_protocol_range(std::string_view text);

}  // namespace minotaur::transport
