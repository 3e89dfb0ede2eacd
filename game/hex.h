// Hex math on an axial-coordinate grid (docs/SPEC.md section 1).
//
// A Hex is a position or a vector. The board is every hex within `radius` of the origin. All
// functions are pure; coordinates are small (|q|, |r| <= a few dozen) so int32 never overflows.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace minotaur::game {

struct Hex {
  std::int32_t q = 0;
  std::int32_t r = 0;
  friend bool operator==(Hex, Hex) = default;
};

inline Hex operator+(Hex a, Hex b) {
  return Hex{a.q + b.q, a.r + b.r};
}

// The six unit vectors, in the order docs/SPEC.md lists them (east first, then counter-clockwise).
inline constexpr std::array<Hex, 6> kUnitVectors{Hex{1, 0},  Hex{1, -1}, Hex{0, -1},
                                                 Hex{-1, 0}, Hex{-1, 1}, Hex{0, 1}};

// Hex distance: the number of unit steps from a to b.
std::int32_t distance(Hex a, Hex b);

bool is_unit_vector(Hex v);

inline constexpr std::int32_t kDefaultBoardRadius = 4;
inline constexpr std::int32_t kMinBoardRadius = 2;  // 19 hexes: room for 8 players
inline constexpr std::int32_t kMaxBoardRadius = 32;

// The hexes at exactly distance k from the origin, walking around the ring from (k, -k)...
// in a fixed order; ring(0) is the origin alone.
std::vector<Hex> ring(std::int32_t k);

// True when `h` is on a board of the given radius: max(|q|, |r|, |q + r|) <= radius.
bool on_board(Hex h, std::int32_t radius);

}  // namespace minotaur::game
