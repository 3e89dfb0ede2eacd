// Assertions that stay on in every build, release included (docs/DESIGN.md habit 3).
//
// MINOTAUR_ASSERT(cond) checks one condition; a false one is a bug, so the process prints where
// and aborts. Operating errors (bad input, a vanished peer) are never asserted: they are values.
#pragma once

namespace minotaur {

[[noreturn]] void assert_fail(const char* condition, const char* file, int line) noexcept;

}  // namespace minotaur

#define MINOTAUR_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::minotaur::assert_fail(#cond, __FILE__, __LINE__))
