// Log lines for a log collector (minotaur node --log-format json): one JSON object a line, with
// the time (UTC, ISO 8601 with milliseconds), the level, the node's name, the component (the
// word a line starts with, before its first ": ", as in "transport: ..." or "session g_1: ..."),
// and the message. Every byte of the message is escaped, so that no line an outside input
// shaped can break a collector's parsing.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>

namespace minotaur {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(std::string node) : node_(std::move(node)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::string node_;
};

// The text format's pattern (a terminal's, and `minotaur local`'s log files).
inline constexpr const char* kTextLogPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

}  // namespace minotaur
