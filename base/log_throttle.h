// LogThrottle: a repeated event said once per interval, with how often it happened.
//
// An error that repeats as fast as a loop can spin (accept failing with EMFILE, a flood of bad
// connections) must not fill the disk with one line each: the first one is said at once, then
// at most one line per interval, each with the count of events since the previous line. Events
// after the last line are said only when another one comes; the counters in /metrics have the
// exact totals.
//
// Sans-I/O: the caller passes the time. Not thread-safe; one per loop.
#pragma once

#include <cstdint>

namespace minotaur {

class LogThrottle {
 public:
  explicit LogThrottle(std::int64_t interval_ms) : interval_ms_(interval_ms) {}

  // Counts one event at `now_ms`; calls `say(count)` when a line is due, `count` being the events
  // since the last line, this one included.
  template <typename Say>
  void note(std::int64_t now_ms, Say&& say) {
    ++pending_;
    if (said_once_ && now_ms - last_said_ms_ < interval_ms_) return;
    said_once_ = true;
    last_said_ms_ = now_ms;
    const std::uint64_t count = pending_;
    pending_ = 0;
    say(count);
  }

 private:
  std::int64_t interval_ms_;
  std::int64_t last_said_ms_ = 0;
  bool said_once_ = false;
  std::uint64_t pending_ = 0;
};

}  // namespace minotaur
