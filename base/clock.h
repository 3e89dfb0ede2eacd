// steady_now_ms: the process's monotonic clock in milliseconds, for the Asio shells that pass
// time into sans-I/O code (budgets, log throttles, membership). Never the wall clock: a clock
// step must not refill a budget or skip a failure bound.
#pragma once

#include <chrono>
#include <cstdint>

namespace minotaur {

inline std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace minotaur
