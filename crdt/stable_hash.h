// Hashes that every replica, of every version, computes the same way: the anti-entropy digest
// (crdt/awlww_map.h) compares per-bucket hashes between nodes, so std::hash (which may change
// between library versions) must not be used for it. FNV-1a with a splitmix64 finalizer: not
// cryptographic, only a checksum between trusted cluster members.
#pragma once

#include <cstdint>
#include <string_view>

namespace minotaur::crdt {

inline constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t stable_hash(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

}  // namespace minotaur::crdt
