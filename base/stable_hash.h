// Hashes that every node, of every build and version, computes the same way: placement, replica
// ids, the store's anti-entropy digests and the membership table's digest are compared between
// nodes, so std::hash (which may change between library versions) must not be used for them.
// FNV-1a, 64 bit, and stable_hash with a splitmix64 finalizer for an even spread: not
// cryptographic, only checksums between trusted cluster members.
#pragma once

#include <cstdint>
#include <string_view>

namespace minotaur {

// FNV-1a over the bytes added, in order.
class Fnv1a {
 public:
  Fnv1a& add(std::string_view bytes) {
    for (const char c : bytes) byte(static_cast<unsigned char>(c));
    return *this;
  }
  Fnv1a& add_u64(std::uint64_t v) {  // its 8 bytes, least significant first
    for (int i = 0; i < 8; ++i) byte(static_cast<unsigned char>((v >> (8 * i)) & 0xffu));
    return *this;
  }
  std::uint64_t value() const { return h_; }

 private:
  void byte(unsigned char b) {
    h_ ^= b;
    h_ *= 0x100000001b3ULL;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

inline constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t stable_hash(std::string_view bytes) {
  return mix64(Fnv1a().add(bytes).value());
}

}  // namespace minotaur
