#include "base/log_format.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/details/log_msg.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

namespace minotaur {

namespace {

// The component a message names first ("transport", "session g_1"), or empty: the text before
// its first ": ", when that is short and has no other punctuation.
std::string_view component_of(std::string_view message) {
  const auto colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0 || colon > 40) return {};
  const std::string_view head = message.substr(0, colon);
  for (char c : head) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == ' ' || c == '_' || c == '-' || c == '#' || c == '.';
    if (!plain) return {};
  }
  return head;
}

void append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

// The length of the well-formed UTF-8 sequence at the start of `s`, or 0.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  unsigned min = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  unsigned cp = c & (0xFFu >> (n + 1));
  for (std::size_t i = 1; i < n; ++i) {
    if ((b(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i) & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// `text` with every byte that is not well-formed UTF-8 replaced by U+FFFD, so that the JSON
// line is valid UTF-8 whatever a message carries.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::size_t n = utf8_sequence(text);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

}  // namespace

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const std::string message = valid_utf8(std::string_view(msg.payload.data(), msg.payload.size()));
  const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(msg.time);
  const auto level = spdlog::level::to_string_view(msg.level);
  const std::tm utc = fmt::gmtime(std::chrono::system_clock::to_time_t(msg.time));
  append(dest, fmt::format("{{\"time\":\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\",\"level\":", utc,
                           static_cast<int>(ms.time_since_epoch().count() % 1000)));
  append(dest, boost::json::serialize(boost::json::string_view(level.data(), level.size())));
  append(dest, ",\"node\":");
  append(dest, boost::json::serialize(boost::json::string(node_)));
  if (const auto component = component_of(message); !component.empty()) {
    append(dest, ",\"component\":");
    append(dest, boost::json::serialize(boost::json::string_view(component)));
  }
  append(dest, ",\"message\":");
  append(dest, boost::json::serialize(boost::json::string_view(message)));
  append(dest, "}\n");
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>(node_);
}

}  // namespace minotaur
