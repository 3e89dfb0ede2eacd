// ClientBudgets: what one client may take of a node — per client address and per user — so that
// no single client can take everyone's share (docs/SPEC.md section 3, "Budgets per client":
// budgets answer 429 with Retry-After).
//
// Two kinds of limit:
//   - open connections per address (HTTP and WebSocket alike), counted while they are open;
//   - token buckets: a rate with a burst, per address or per user, for requests (every HTTP
//     request and WebSocket message), new users, new lobbies, game calls (actions, end_round)
//     and wrong join-code guesses (a lobby found costs nothing; a miss costs one, so guessing
//     codes is slow while typing a friend's code is not).
// A refusal says how long until the call would pass (Retry-After).
//
// Memory is bounded: each bucket set keeps at most `max_tracked` keys; buckets that have filled
// up again are forgotten first, and when every tracked key is still in debt a new key is refused
// (a flood of new addresses or users cannot grow the tables).
//
// Weakness: a client address is the TCP peer's. Behind a proxy every player shares the proxy's
// address; raise the per-address limits there (or turn them off) and rely on the per-user ones.
//
// Sans-I/O: the caller passes the time. Not thread-safe: the node's io_context thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace minotaur::gateway {

// A token bucket's rate: `per_s` tokens a second, at most `burst` saved. per_s 0: unlimited.
struct Rate {
  double per_s = 0;
  double burst = 0;
};

struct BudgetLimits {
  std::size_t connections_per_address = 256;  // 0: unlimited
  Rate requests_per_address{200, 400};
  Rate users_per_address{0.2, 20};             // POST /api/v1/users
  Rate lobbies_per_user{0.1, 10};              // POST /api/v1/lobbies
  Rate calls_per_user{20, 40};                 // actions and end_round, HTTP and WebSocket
  Rate join_misses_per_address{1.0 / 30, 20};  // wrong join codes
  Rate join_misses_per_user{1.0 / 30, 20};
  std::size_t max_tracked = 100'000;  // keys per bucket set

  // Everything unlimited: for benchmarks and tests that drive a node from one address.
  static BudgetLimits off();
};

// Token buckets for one kind of budget, keyed by address or user id.
class TokenBuckets {
 public:
  TokenBuckets(Rate rate, std::size_t max_tracked) : rate_(rate), max_tracked_(max_tracked) {}

  // 0 when `key` may spend `cost` now (and it is spent); otherwise the milliseconds until it
  // could, and nothing is spent.
  std::int64_t take(std::string_view key, double cost, std::int64_t now_ms);
  // Whether `key` could spend `cost` now, spending nothing (the ms to wait, or 0).
  std::int64_t peek(std::string_view key, double cost, std::int64_t now_ms);

  std::size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t at_ms = 0;
  };
  Bucket* find_or_add(std::string_view key, std::int64_t now_ms);
  void refill(Bucket& b, std::int64_t now_ms) const;
  std::int64_t wait_ms(const Bucket& b, double cost) const;
  void forget_full(std::int64_t now_ms);

  Rate rate_;
  std::size_t max_tracked_;
  std::unordered_map<std::string, Bucket> buckets_;
};

class ClientBudgets {
 public:
  explicit ClientBudgets(BudgetLimits limits = {});

  // A connection from `address` opens: false (and nothing counted) when it has too many open.
  bool open_connection(const std::string& address);
  void close_connection(const std::string& address);

  TokenBuckets& requests() { return requests_; }
  TokenBuckets& users() { return users_; }
  TokenBuckets& lobbies() { return lobbies_; }
  TokenBuckets& calls() { return calls_; }
  TokenBuckets& join_misses_by_address() { return join_misses_address_; }
  TokenBuckets& join_misses_by_user() { return join_misses_user_; }

  std::uint64_t refused() const { return refused_; }
  void count_refusal() { ++refused_; }

 private:
  BudgetLimits limits_;
  std::unordered_map<std::string, std::size_t> connections_;
  TokenBuckets requests_;
  TokenBuckets users_;
  TokenBuckets lobbies_;
  TokenBuckets calls_;
  TokenBuckets join_misses_address_;
  TokenBuckets join_misses_user_;
  std::uint64_t refused_ = 0;
};

}  // namespace minotaur::gateway
