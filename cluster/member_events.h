// MemberEventHub: fan-out of membership events to the parts of a node that care (placement, the
// hand-off, the HTTP /api/v1/cluster view, logs). Membership returns events in each Step; the
// node publishes them here, in order.
//
// Threads: not thread-safe; subscribe, unsubscribe and publish on the node's membership thread.
// A handler may unsubscribe itself or others during publish; a handler subscribed during publish
// first sees the next event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "cluster/member.h"

namespace minotaur::cluster {

inline constexpr std::size_t kMaxEventSubscribers = 64;

class MemberEventHub {
 public:
  using Handler = std::function<void(const MemberEvent&)>;
  using SubscriptionId = std::uint64_t;

  // More than kMaxEventSubscribers subscribers is a bug (a subscriber leak).
  SubscriptionId subscribe(Handler handler);
  void unsubscribe(SubscriptionId id);
  void publish(const std::vector<MemberEvent>& events);
  std::size_t subscribers() const { return handlers_.size(); }

 private:
  std::map<SubscriptionId, Handler> handlers_;
  SubscriptionId next_id_ = 1;
};

}  // namespace minotaur::cluster
