// host:port strings, as given on the command line (--cluster, --seeds) and gossiped between
// members. Parsing only: resolving a name to IP addresses is the runtime's job (Transport
// resolves when it dials). Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace minotaur::transport {

inline constexpr std::size_t kMaxSeedAddresses = 64;

struct HostPort {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
};

// Parses "host:port" or "[v6addr]:port". Port 0 is allowed (listen on any free port). The error
// says what is wrong with the text, for the operator.
Result<HostPort, std::string> parse_host_port(std::string_view text);

// Formats back to "host:port", bracketing IPv6 hosts.
std::string format_host_port(const HostPort& hp);

// Parses a comma-separated list ("a:1,b:2"); empty items are skipped; at most kMaxSeedAddresses.
Result<std::vector<HostPort>, std::string> parse_host_port_list(std::string_view text);

}  // namespace minotaur::transport
