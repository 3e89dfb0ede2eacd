#include "transport/address.h"

#include <charconv>

#include "transport/identity.h"

namespace minotaur::transport {

Result<HostPort, std::string> parse_host_port(std::string_view text) {
  const std::string shown(text.substr(0, kMaxAddressBytes));
  if (!valid_address(text)) {
    return err("address '" + shown + "' is empty, too long or has spaces; expected host:port");
  }
  HostPort hp;
  std::string_view port_text;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return err("address '" + shown + "' is not [ipv6]:port");
    }
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return err("address '" + shown + "' has no port; expected host:port");
    }
    hp.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (hp.host.find(':') != std::string::npos) {
      return err("address '" + shown + "': write IPv6 hosts in brackets, [::1]:7000");
    }
  }
  if (hp.host.empty()) return err("address '" + shown + "' has an empty host");
  unsigned value = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      value > 65535) {
    return err("address '" + shown + "' has a bad port; expected a number 0..65535");
  }
  hp.port = static_cast<std::uint16_t>(value);
  return hp;
}

std::string format_host_port(const HostPort& hp) {
  const bool v6 = hp.host.find(':') != std::string::npos;
  return (v6 ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
}

Result<std::vector<HostPort>, std::string> parse_host_port_list(std::string_view text) {
  std::vector<HostPort> out;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    if (out.size() == kMaxSeedAddresses) {
      return err("more than " + std::to_string(kMaxSeedAddresses) + " addresses in the list");
    }
    auto hp = parse_host_port(item);
    if (!hp.ok()) return err(hp.error());
    out.push_back(std::move(hp).value());
  }
  return out;
}

}  // namespace minotaur::transport
