// What membership tells the rest of a node: members, their status, and the events when a status
// changes. Plain values; any thread.
#pragma once

#include <cstdint>
#include <string>

namespace minotaur::cluster {

// Ordered: for one incarnation a later status wins (see membership.proto).
enum class MemberStatus : int { kUp = 1, kLeaving = 2, kDown = 3 };

const char* to_string(MemberStatus s);  // "up", "leaving", "down" (the API's words)

struct Member {
  std::string name;
  std::uint64_t incarnation = 0;
  std::string address;
  MemberStatus status = MemberStatus::kUp;
  bool self = false;  // this node
};

// One change of one member incarnation's status. kind is the new status: kUp when an incarnation
// joins, kLeaving when it announced leaving (out of placement at once), kDown when it left, went
// silent past the failure bound, or was replaced by a newer incarnation. A given incarnation
// moves only forward (up -> leaving -> down, steps may be skipped) and each step is told once.
struct MemberEvent {
  MemberStatus kind = MemberStatus::kUp;
  Member member;
  std::int64_t at_ms = 0;  // the now_ms of the step that produced it
};

}  // namespace minotaur::cluster
