#include "transport/identity.h"

namespace minotaur::transport {

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNodeNameBytes) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool valid_address(std::string_view address) {
  if (address.empty() || address.size() > kMaxAddressBytes) return false;
  for (const char c : address) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

bool valid_identity(const NodeIdentity& id) {
  return valid_node_name(id.name) && id.incarnation != 0 && valid_address(id.address);
}

}  // namespace minotaur::transport
