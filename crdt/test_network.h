// TestNetwork: a seeded, single-threaded network of SyncReplicas for the crdt tests.
//
// Every message goes through the wire codec (encode -> bytes -> decode) and waits in a queue
// with a random delay; delivery may drop it, duplicate it, or reorder it, as the options say. A
// replica can be taken away (its messages are lost both ways) and brought back. Checks made on
// every step: each delta a replica sends has an exact context (every live entry of the sender
// whose dot the context covers is carried: the Elixir #65 rule), and each replica's invariants.
// Test-only; the seed is the caller's to print.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crdt/codec.h"
#include "crdt/sync_replica.h"

namespace minotaur::crdt::testing {

// How many seeds a property test runs: `fallback`, or MINOTAUR_CRDT_SEEDS for a deeper run.
inline std::uint64_t seed_count(std::uint64_t fallback) {
  const char* v = std::getenv("MINOTAUR_CRDT_SEEDS");
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

struct NetOptions {
  double loss = 0.0;       // chance a message is dropped
  double duplicate = 0.0;  // chance a delivered message is delivered again later
  std::uint64_t max_delay_ms = 5;
  SyncOptions sync;
};

class TestNetwork {
 public:
  TestNetwork(std::uint64_t seed, NetOptions options) : rng_(seed), options_(options) {}

  SyncReplica& add(ReplicaId id) {
    auto [it, fresh] = replicas_.emplace(id, std::make_unique<SyncReplica>(id, options_.sync));
    EXPECT_TRUE(fresh);
    return *it->second;
  }
  SyncReplica& at(ReplicaId id) { return *replicas_.at(id); }
  bool has(ReplicaId id) const { return replicas_.contains(id); }
  // Drops a replica for good (a crash or a stop; a restart comes back with a new id).
  void erase(ReplicaId id) {
    replicas_.erase(id);
    for (auto& [rid, r] : replicas_) r->remove_neighbour(id);
  }
  void connect(ReplicaId a, ReplicaId b) {
    ASSERT_TRUE(at(a).add_neighbour(b, now_ms_).ok());
    ASSERT_TRUE(at(b).add_neighbour(a, now_ms_).ok());
  }
  void connect_all() {
    for (auto& [a, ra] : replicas_) {
      for (auto& [b, rb] : replicas_) {
        if (a != b) {
          ASSERT_TRUE(ra->add_neighbour(b, now_ms_).ok());
        }
      }
    }
  }
  void set_away(ReplicaId id, bool away) {
    if (away) {
      away_.insert(id);
    } else {
      away_.erase(id);
    }
  }
  std::uint64_t now_ms() const { return now_ms_; }
  std::mt19937_64& rng() { return rng_; }
  std::size_t in_transit() const { return queue_.size(); }

  // One step: time advances 1 ms, every replica ticks, outboxes go on the wire, and the due
  // messages are delivered in random order.
  void step() {
    ++now_ms_;
    for (auto& [id, r] : replicas_) {
      r->tick(now_ms_);
      collect(id);
    }
    std::vector<Packet> due;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (it->at_ms <= now_ms_) {
        due.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    std::shuffle(due.begin(), due.end(), rng_);
    for (Packet& p : due) deliver(std::move(p));
  }
  void run(std::uint64_t steps) {
    for (std::uint64_t i = 0; i < steps; ++i) step();
  }
  // Steps until every replica that is not away holds the same state, at most max_steps.
  bool run_until_converged(std::uint64_t max_steps) {
    for (std::uint64_t i = 0; i < max_steps; ++i) {
      step();
      if (i % 16 == 15 && converged()) return true;
    }
    return converged();
  }
  bool converged() const {
    const SyncReplica* first = nullptr;
    for (const auto& [id, r] : replicas_) {
      if (away_.contains(id)) continue;
      if (first == nullptr) {
        first = r.get();
      } else if (!first->map().same_state(r->map())) {
        return false;
      }
    }
    return true;
  }
  // A key of a write that nobody removes: once a replica has it, it must keep it for ever.
  void expect_permanent(const std::string& key) { permanent_.insert(key); }

  std::map<ReplicaId, std::unique_ptr<SyncReplica>>& replicas() { return replicas_; }

 private:
  struct Packet {
    ReplicaId from = 0;
    ReplicaId to = 0;
    std::string bytes;
    std::uint64_t at_ms = 0;
  };

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void collect(ReplicaId from) {
    SyncReplica& r = *replicas_.at(from);
    for (Outgoing& o : r.take_outbox()) {
      check_exact(r, o.message);
      if (away_.contains(from) || away_.contains(o.to)) continue;
      const std::uint64_t delay = std::uniform_int_distribution<std::uint64_t>(
          1, std::max<std::uint64_t>(1, options_.max_delay_ms))(rng_);
      queue_.push_back(Packet{from, o.to, encode(std::move(o.message)), now_ms_ + delay});
    }
  }

  void deliver(Packet p) {
    if (away_.contains(p.from) || away_.contains(p.to) || !replicas_.contains(p.to)) return;
    if (chance(options_.loss)) return;
    if (chance(options_.duplicate)) queue_.push_back(Packet{p.from, p.to, p.bytes, now_ms_ + 3});
    auto message = decode(p.bytes);
    ASSERT_TRUE(message.ok()) << message.error();
    const std::size_t kind = message.value().index();
    SyncReplica& r = *replicas_.at(p.to);
    const auto result = r.receive(p.from, std::move(message).value(), now_ms_);
    // A message from a replica that is no longer a neighbour is an operating error; nothing else.
    ASSERT_TRUE(result.ok() || result.error() == SyncError::kUnknownNeighbour)
        << to_string(result.error());
    if (++deliveries_ % 8 == 0) r.map().check_invariants();  // O(n): not after every message
    for (const std::string& key : permanent_) {
      if (r.get(key)) {
        seen_[p.to].insert(key);
      } else {
        ASSERT_FALSE(seen_[p.to].contains(key))
            << "replica " << p.to << " lost key " << key << " on a message of kind " << kind;
      }
    }
    collect(p.to);
  }

  // The #65 rule: a delta's context covers no live entry of its sender that it does not carry.
  static void check_exact(const SyncReplica& sender, const SyncMessage& m) {
    const Delta* d = nullptr;
    if (const auto* b = std::get_if<PushBatch>(&m)) d = &b->delta;
    if (const auto* c = std::get_if<CatchUp>(&m)) d = &c->delta;
    if (d == nullptr) return;
    const CausalContext ctx = CausalContext::from_ranges(d->context);
    std::set<std::pair<std::string, Dot>> carried;
    for (const DeltaEntry& e : d->entries) {
      ASSERT_TRUE(ctx.contains(e.dot));
      carried.emplace(e.key, e.dot);
    }
    for (const Tombstone& t : d->tombstones) {
      for (const Dot& dot : t.dots) {
        ASSERT_TRUE(ctx.contains(dot));
      }
    }
    sender.map().for_each([&](const std::string& key, const Entry& e) {
      if (ctx.contains(e.dot)) {
        ASSERT_TRUE(carried.contains({key, e.dot}))
            << "delta context covers live key " << key << " without carrying it";
      }
    });
  }

  std::mt19937_64 rng_;
  std::uint64_t deliveries_ = 0;
  NetOptions options_;
  std::uint64_t now_ms_ = 1'000'000;
  std::map<ReplicaId, std::unique_ptr<SyncReplica>> replicas_;
  std::set<ReplicaId> away_;
  std::vector<Packet> queue_;
  std::set<std::string> permanent_;
  std::map<ReplicaId, std::set<std::string>> seen_;
};

}  // namespace minotaur::crdt::testing
