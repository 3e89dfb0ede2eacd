// delay_until: how long a timer waits for a wall-clock deadline that may come from outside.
//
// Deadlines (a round's end, a retention's end) are milliseconds since 1970 in a state that a
// client, a peer or an old version wrote. `at_ms + plus_ms - now_ms` can overflow int64, and a
// huge delay overflows the timer's nanoseconds and fires at once; both would end a round early.
// This adds without overflow, and clamps to [0, kMaxTimerDelayMs].
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace minotaur {

// About 100 years: a timer further out than that never fires in a process's life anyway.
inline constexpr std::int64_t kMaxTimerDelayMs = 100LL * 365 * 24 * 3600 * 1000;

inline std::chrono::milliseconds delay_until(std::int64_t at_ms, std::int64_t plus_ms,
                                             std::int64_t now_ms) {
  std::int64_t deadline = 0;
  if (__builtin_add_overflow(at_ms, plus_ms, &deadline)) {
    return std::chrono::milliseconds(plus_ms > 0 ? kMaxTimerDelayMs : 0);
  }
  std::int64_t delay = 0;
  if (__builtin_sub_overflow(deadline, now_ms, &delay)) {
    return std::chrono::milliseconds(deadline > now_ms ? kMaxTimerDelayMs : 0);
  }
  return std::chrono::milliseconds(std::clamp<std::int64_t>(delay, 0, kMaxTimerDelayMs));
}

}  // namespace minotaur
