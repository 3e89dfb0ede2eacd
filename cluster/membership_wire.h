// Member statuses to and from their wire form (membership.proto), for the files that implement
// Membership.
#pragma once

#include <optional>

#include "cluster/member.h"
#include "cluster/membership.pb.h"

namespace minotaur::cluster {

// nullopt for a status that is unspecified or written by a newer version: skip the entry.
std::optional<MemberStatus> from_wire(v1::MemberStatus s);
v1::MemberStatus to_wire(MemberStatus s);

}  // namespace minotaur::cluster
