#include "base/assert.h"

#include <cstdio>
#include <cstdlib>

namespace minotaur {

void assert_fail(const char* condition, const char* file, int line) noexcept {
  std::fprintf(stderr, "assertion failed: %s at %s:%d (this is a bug in Minotaur)\n", condition,
               file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace minotaur
