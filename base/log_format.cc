#include "base/log_format.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/details/log_msg.h>

#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <string>
#include <string_view>

#include "base/utf8.h"

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

// `text` with every byte that is not well-formed UTF-8 replaced by U+FFFD, so that the JSON
// line is valid UTF-8 whatever a message carries.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t at = i;
    if (next_code_point(text, i)) {
      out.append(text.substr(at, i - at));
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
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
