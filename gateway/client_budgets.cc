#include "gateway/client_budgets.h"

#include <algorithm>
#include <cmath>

#include "base/assert.h"

namespace minotaur::gateway {

BudgetLimits BudgetLimits::off() {
  BudgetLimits l;
  l.connections_per_address = 0;
  l.requests_per_address = l.users_per_address = l.lobbies_per_user = l.calls_per_user =
      l.join_misses_per_address = l.join_misses_per_user = Rate{};
  return l;
}

void TokenBuckets::refill(Bucket& b, std::int64_t now_ms) const {
  if (now_ms <= b.at_ms) return;
  const double earned = rate_.per_s * static_cast<double>(now_ms - b.at_ms) / 1000.0;
  b.tokens = std::min(rate_.burst, b.tokens + earned);
  b.at_ms = now_ms;
}

std::int64_t TokenBuckets::wait_ms(const Bucket& b, double cost) const {
  if (b.tokens >= cost) return 0;
  if (cost > rate_.burst) return INT64_MAX / 2;  // never: more than the bucket holds
  return std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil((cost - b.tokens) * 1000.0 / rate_.per_s)));
}

void TokenBuckets::forget_full(std::int64_t now_ms) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now_ms);
    it = it->second.tokens >= rate_.burst ? buckets_.erase(it) : std::next(it);
  }
}

TokenBuckets::Bucket* TokenBuckets::find_or_add(std::string_view key, std::int64_t now_ms) {
  auto it = buckets_.find(std::string(key));
  if (it != buckets_.end()) {
    refill(it->second, now_ms);
    return &it->second;
  }
  if (buckets_.size() >= max_tracked_) forget_full(now_ms);
  if (buckets_.size() >= max_tracked_) return nullptr;
  return &buckets_.emplace(std::string(key), Bucket{rate_.burst, now_ms}).first->second;
}

std::int64_t TokenBuckets::peek(std::string_view key, double cost, std::int64_t now_ms) {
  if (rate_.per_s <= 0) return 0;
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return cost <= rate_.burst ? 0 : INT64_MAX / 2;
  refill(it->second, now_ms);
  return wait_ms(it->second, cost);
}

std::int64_t TokenBuckets::take(std::string_view key, double cost, std::int64_t now_ms) {
  if (rate_.per_s <= 0) return 0;
  Bucket* b = find_or_add(key, now_ms);
  // Every tracked key is in debt and this one is new: refuse it for one token's time.
  if (b == nullptr) return std::max<std::int64_t>(1, static_cast<std::int64_t>(1000 / rate_.per_s));
  const std::int64_t wait = wait_ms(*b, cost);
  if (wait == 0) b->tokens -= cost;
  MINOTAUR_ASSERT(b->tokens >= 0);
  return wait;
}

ClientBudgets::ClientBudgets(BudgetLimits limits)
    : limits_(limits),
      requests_(limits.requests_per_address, limits.max_tracked),
      users_(limits.users_per_address, limits.max_tracked),
      lobbies_(limits.lobbies_per_user, limits.max_tracked),
      calls_(limits.calls_per_user, limits.max_tracked),
      join_misses_address_(limits.join_misses_per_address, limits.max_tracked),
      join_misses_user_(limits.join_misses_per_user, limits.max_tracked) {}

bool ClientBudgets::open_connection(const std::string& address) {
  std::size_t& open = connections_[address];
  if (limits_.connections_per_address != 0 && open >= limits_.connections_per_address) {
    if (open == 0) connections_.erase(address);
    ++refused_;
    return false;
  }
  ++open;
  return true;
}

void ClientBudgets::close_connection(const std::string& address) {
  auto it = connections_.find(address);
  MINOTAUR_ASSERT(it != connections_.end() && it->second > 0);
  if (--it->second == 0) connections_.erase(it);
}

}  // namespace minotaur::gateway
