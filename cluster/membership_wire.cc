// The membership protocol on the wire: member statuses to and from their enum, and a message's
// payload (encode_membership and decode_membership, declared in membership.h).
#include "cluster/membership_wire.h"

#include "base/assert.h"
#include "cluster/membership.h"

namespace minotaur::cluster {

std::optional<MemberStatus> from_wire(v1::MemberStatus s) {
  switch (s) {
    case v1::MEMBER_STATUS_UP:
      return MemberStatus::kUp;
    case v1::MEMBER_STATUS_LEAVING:
      return MemberStatus::kLeaving;
    case v1::MEMBER_STATUS_DOWN:
      return MemberStatus::kDown;
    default:
      return std::nullopt;  // unspecified, or written by a newer version: skip the entry
  }
}

v1::MemberStatus to_wire(MemberStatus s) {
  switch (s) {
    case MemberStatus::kUp:
      return v1::MEMBER_STATUS_UP;
    case MemberStatus::kLeaving:
      return v1::MEMBER_STATUS_LEAVING;
    case MemberStatus::kDown:
      return v1::MEMBER_STATUS_DOWN;
  }
  MINOTAUR_ASSERT(false);
  return v1::MEMBER_STATUS_UNSPECIFIED;
}

std::string encode_membership(const v1::MembershipMessage& m) {
  std::string out;
  const bool ok = m.SerializeToString(&out);
  MINOTAUR_ASSERT(ok);
  return out;
}

Result<v1::MembershipMessage, std::string> decode_membership(std::string_view payload) {
  v1::MembershipMessage m;
  if (!m.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return err(std::string("membership message does not decode"));
  }
  if (m.body_case() == v1::MembershipMessage::BODY_NOT_SET) {
    return err(std::string("membership message of an unknown kind (a newer version?)"));
  }
  if (m.has_gossip() && static_cast<std::size_t>(m.gossip().members_size()) > kMaxGossipEntries) {
    return err(std::string("gossip with more than ") + std::to_string(kMaxGossipEntries) +
               " members");
  }
  return m;
}

}  // namespace minotaur::cluster
