// MembershipSim: a deterministic driver for unit tests. N Membership state machines in one
// thread, virtual time, and a seeded network that delays, reorders and loses messages. The same
// seed gives the same run, event for event; print it on failure (SCOPED_TRACE).
//
// The network models the transport: a node's Step::connect addresses are dial targets, retried
// every dial_retry_ms; a dial to a live, responsive node opens one connection per pair after a
// network delay, and both sides get on_peer_connected. Messages travel only on an open
// connection, each after a delay in [min_delay_ms, max_delay_ms], lost with probability
// loss_probability (harsher than TCP, on purpose: membership must not rely on delivery or
// order). Faults: crash (the process dies and its connections close, as with SIGKILL), freeze
// (the process hangs: no ticks, no deliveries, connections stay open), leave_and_exit (SIGTERM:
// leave(), then exit), restart (crash, then a new incarnation with the same name and address).
//
// Threads: one. Test-only; not part of the node.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/membership.h"

namespace minotaur::cluster {

struct SimOptions {
  std::uint64_t seed = 1;
  std::int64_t min_delay_ms = 1;
  std::int64_t max_delay_ms = 30;
  double loss_probability = 0.0;
  std::int64_t tick_interval_ms = 50;
  std::int64_t dial_retry_ms = 100;
  std::uint32_t heartbeat_interval_ms = 200;
  std::uint32_t failure_timeout_ms = 1500;
};

class MembershipSim {
 public:
  explicit MembershipSim(SimOptions options);

  // Starts a node now, with the given seed node names (their addresses are used).
  void add_node(const std::string& name, const std::vector<std::string>& seed_names);
  void crash(const std::string& name);
  void freeze(const std::string& name);
  void leave_and_exit(const std::string& name, std::int64_t exit_after_ms);
  void restart(const std::string& name);

  void run_for(std::int64_t ms);
  // Runs until pred() holds (checked after every event) or max_ms pass; true if it held.
  bool run_until(const std::function<bool()>& pred, std::int64_t max_ms);

  std::int64_t now_ms() const { return now_ms_; }
  bool alive(const std::string& name) const;
  const Membership& membership(const std::string& name) const;
  // Names in the node's serving_members() view.
  std::vector<std::string> serving(const std::string& name) const;
  // Every event the node's incarnations observed, in order.
  const std::vector<MemberEvent>& events(const std::string& name) const;
  // The first time node `observer` saw `subject` reach `kind` (any incarnation of subject when
  // incarnation is 0), or nullopt.
  std::optional<std::int64_t> first_event_ms(const std::string& observer,
                                             const std::string& subject, MemberStatus kind,
                                             std::uint64_t incarnation = 0) const;
  // True when every live, unfrozen node serves exactly the given names.
  bool all_serve(const std::vector<std::string>& names) const;
  // A fingerprint of everything that happened, to check determinism.
  std::uint64_t trace_hash() const { return trace_hash_; }
  std::uint64_t messages_delivered() const { return delivered_; }

 private:
  struct Node {
    std::string name;
    std::string address;
    std::vector<std::string> seed_names;
    std::uint64_t incarnation = 0;
    std::uint64_t life = 0;  // bumps on every crash/restart: scheduled work of old lives is void
    bool alive = false;
    bool frozen = false;
    std::unique_ptr<Membership> membership;
    std::set<std::string> dial_targets;
    std::vector<MemberEvent> events;
  };
  struct Scheduled {
    std::int64_t at_ms;
    std::uint64_t seq;
    std::function<void()> fn;
  };

  void start(Node& n);
  void schedule(std::int64_t delay_ms, std::function<void()> fn);
  void apply(Node& n, Step step);
  void tick(const std::string& name, std::uint64_t life);
  void dial(const std::string& name, std::uint64_t life);
  void close_connections(const std::string& name);
  bool responsive(const std::string& name, std::uint64_t life) const;
  std::int64_t delay();
  Node* node_at(const std::string& address);
  transport::NodeIdentity identity(const Node& n) const;
  static std::pair<std::string, std::string> key(const std::string& a, const std::string& b);
  void record(std::string_view what);

  SimOptions options_;
  std::mt19937_64 rng_;
  std::int64_t now_ms_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t next_incarnation_ = 1000;
  std::uint64_t trace_hash_ = 0xcbf29ce484222325ULL;
  std::uint64_t delivered_ = 0;
  std::multimap<std::pair<std::int64_t, std::uint64_t>, std::function<void()>> queue_;
  std::map<std::string, Node> nodes_;
  // Open connections: (lower name, higher name) -> (incarnation of first, of second).
  std::map<std::pair<std::string, std::string>, std::pair<std::uint64_t, std::uint64_t>> conns_;
};

}  // namespace minotaur::cluster
