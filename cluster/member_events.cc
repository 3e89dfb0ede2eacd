#include "cluster/member_events.h"

#include <utility>

#include "base/assert.h"

namespace minotaur::cluster {

MemberEventHub::SubscriptionId MemberEventHub::subscribe(Handler handler) {
  MINOTAUR_ASSERT(handler != nullptr);
  MINOTAUR_ASSERT(handlers_.size() < kMaxEventSubscribers);
  const SubscriptionId id = next_id_++;
  handlers_.emplace(id, std::move(handler));
  return id;
}

void MemberEventHub::unsubscribe(SubscriptionId id) {
  handlers_.erase(id);
}

void MemberEventHub::publish(const std::vector<MemberEvent>& events) {
  for (const MemberEvent& e : events) {
    // Copy the ids first: a handler may (un)subscribe while we iterate.
    std::vector<SubscriptionId> ids;
    ids.reserve(handlers_.size());
    for (const auto& [id, h] : handlers_) ids.push_back(id);
    for (const SubscriptionId id : ids) {
      auto it = handlers_.find(id);
      if (it == handlers_.end()) continue;
      Handler h = it->second;  // the handler may unsubscribe itself while running
      h(e);
    }
  }
}

}  // namespace minotaur::cluster
