#include "cluster/member_events.h"

#include <gtest/gtest.h>

#include <vector>

namespace minotaur::cluster {
namespace {

MemberEvent event(const std::string& name, MemberStatus kind) {
  return MemberEvent{kind, Member{name, 1, name + ":1", kind, false}, 0};
}

TEST(MemberEventHub, DeliversEveryEventInOrderToEverySubscriber) {
  MemberEventHub hub;
  std::vector<std::string> a, b;
  hub.subscribe([&](const MemberEvent& e) { a.push_back(e.member.name + to_string(e.kind)); });
  hub.subscribe([&](const MemberEvent& e) { b.push_back(e.member.name + to_string(e.kind)); });
  hub.publish({event("x", MemberStatus::kUp), event("x", MemberStatus::kLeaving)});
  EXPECT_EQ(a, (std::vector<std::string>{"xup", "xleaving"}));
  EXPECT_EQ(a, b);
}

TEST(MemberEventHub, UnsubscribeDuringPublish) {
  MemberEventHub hub;
  int calls = 0;
  MemberEventHub::SubscriptionId id = 0;
  id = hub.subscribe([&](const MemberEvent&) {
    ++calls;
    hub.unsubscribe(id);
  });
  hub.publish({event("x", MemberStatus::kUp), event("y", MemberStatus::kUp)});
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(hub.subscribers(), 0u);
}

}  // namespace
}  // namespace minotaur::cluster
