#include "transport/protocol_range.h"

#include <algorithm>
#include <charconv>

namespace minotaur::transport {

namespace {

// A decimal version of at most 9 digits (no sign, no spaces), 1 or more.
std::optional<std::uint32_t> parse_version(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  std::uint32_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v == 0) return std::nullopt;
  return v;
}

}  // namespace

bool valid_protocol_range(const ProtocolRange& r) {
  return r.min >= 1 && r.min <= r.max;
}

std::optional<ProtocolRange> peer_protocol_range(std::uint32_t min_field, std::uint32_t max_field) {
  if (max_field == 0 && min_field == 0) return ProtocolRange{1, 1};
  const ProtocolRange r{std::max<std::uint32_t>(min_field, 1), max_field};
  if (!valid_protocol_range(r)) return std::nullopt;
  return r;
}

std::optional<ProtocolRange> common_protocol_range(const ProtocolRange& a, const ProtocolRange& b) {
  const ProtocolRange r{std::max(a.min, b.min), std::min(a.max, b.max)};
  if (r.min > r.max) return std::nullopt;
  return r;
}

std::string to_string(const ProtocolRange& r) {
  if (r.min == r.max) return std::to_string(r.min);
  return std::to_string(r.min) + "-" + std::to_string(r.max);
}

Result<ProtocolRange, std::string> parse_protocol_range(std::string_view text) {
  const std::size_t dash = text.find('-');
  const auto lo = parse_version(text.substr(0, dash));
  const auto hi = dash == std::string_view::npos ? lo : parse_version(text.substr(dash + 1));
  if (!lo || !hi || *lo > *hi) {
    return err("'" + std::string(text.substr(0, 32)) +
               "' is not a protocol range; give MIN-MAX with 1 <= MIN <= MAX (e.g. 1-2) or one "
               "version (e.g. 2)");
  }
  return ProtocolRange{*lo, *hi};
}

}  // namespace minotaur::transport
