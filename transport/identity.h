// Who a node is on the cluster port: its unique name, the incarnation of its current process and
// the host:port it can be reached at. Plain values; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace minotaur::transport {

inline constexpr std::size_t kMaxNodeNameBytes = 64;
inline constexpr std::size_t kMaxAddressBytes = 256;

struct NodeIdentity {
  std::string name;               // unique in the cluster; see valid_node_name
  std::uint64_t incarnation = 0;  // new (and larger) each time the process starts; never 0
  std::string address;            // host:port other nodes dial to reach this node's cluster port
};

// A node name is 1..64 bytes of [A-Za-z0-9._-], so it is safe in logs, metrics and file names.
bool valid_node_name(std::string_view name);

// 1..256 printable ASCII bytes without spaces (shape only; parse_host_port checks the rest).
bool valid_address(std::string_view address);

// Checks all three fields; the incarnation must be non-zero.
bool valid_identity(const NodeIdentity& id);

}  // namespace minotaur::transport
