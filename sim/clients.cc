// The clients: the games created at the start, then calls through random nodes, following the
// node core's answers as the HTTP API does (serve, forward, wait, answer), and the probes after
// the faults stop. What a client sees acknowledged goes to the checkers.
#include <fmt/format.h>

#include "base/assert.h"
#include "sim/world_impl.h"

namespace minotaur::sim {

using sessions::NodeCore;

void World::create(const std::string& game) {
  Node* n = live(names_.front());
  MINOTAUR_ASSERT(n != nullptr);
  sessions::CallState call{game, sessions::CallKind::kCreate, 0, now_ + NodeCore::kCallTimeoutMs};
  const sessions::CallStep step = n->core->step(call, 0, lease(*n), now_);
  // Owned elsewhere: create it there (the API forwards a create the same way). Not known yet
  // (the cluster is still forming): try again.
  Node* o = step.kind == sessions::CallStep::Kind::kServe     ? n
            : step.kind == sessions::CallStep::Kind::kForward ? live(step.owner)
                                                              : nullptr;
  if (o == nullptr) {
    after(100, [this, game] { create(game); });
    return;
  }
  (void)o->host->install(game, "", true, 1);
  o->core->changed(game);
  o->core->created(game);
  carry_ownership(*o);
  checkers_.accepted(o->id(), game, 1, now_);
}

void World::client_step(int client) {
  if (now_ >= fault_end_ms_) return;  // the probes take over
  const std::string game = games_[static_cast<std::size_t>(uniform(0, config_.games - 1))];
  start_call(client, game, false);
  after(uniform(20, 150), [this, client] { client_step(client); });
}

void World::start_call(int client, const std::string& game, bool probe) {
  Call c;
  c.id = ++next_call_;
  c.client = client;
  c.game = game;
  c.action = ++next_action_;
  c.node = names_[static_cast<std::size_t>(uniform(0, config_.nodes - 1))];
  c.deadline_ms = now_ + NodeCore::kCallTimeoutMs;
  c.probe = probe;
  const std::uint64_t id = c.id;
  calls_.emplace(id, std::move(c));
  after(uniform(config_.min_delay_ms, config_.max_delay_ms),
        [this, id] { attempt(calls_.at(id)); });
  after(NodeCore::kCallTimeoutMs, [this, id] {
    Call& call = calls_.at(id);
    if (!call.done) finish(call, "timeout");
  });
}

void World::attempt(Call& c) {
  if (c.done) return;
  Node* n = live(c.node);
  if (n == nullptr) {
    // Connection refused: the client tries another node.
    c.node = names_[static_cast<std::size_t>(uniform(0, config_.nodes - 1))];
    const std::uint64_t id = c.id;
    after(50, [this, id] { attempt(calls_.at(id)); });
    return;
  }
  if (now_ < n->frozen_until) {
    const std::uint64_t id = c.id;
    const std::uint64_t gen = ++c.generation;
    at(n->frozen_until, [this, id, gen] {
      Call& call = calls_.at(id);
      if (!call.done && call.generation == gen) attempt(call);
    });
    return;
  }
  // The lease as it is now (the broken variant: as it was at the last tick).
  const sessions::Lease now_lease = config_.unsafe_stale_quorum ? n->stale_lease : lease(*n);
  const sessions::CallState call{c.game, sessions::CallKind::kWrite, c.hops, c.deadline_ms};
  sessions::CallStep step =
      n->core->step(call, waiting_.count(std::make_pair(n->name, c.game)), now_lease, now_);
  carry_ownership(*n);
  if (step.kind == sessions::CallStep::Kind::kForward &&
      connections_.count(pair_of(n->name, step.owner)) == 0) {
    step = n->core->forward_failed(call, step.owner, now_);  // the owner is unreachable
  }
  switch (step.kind) {
    case sessions::CallStep::Kind::kAnswer:
      finish(c, std::string(step.error->name()));
      return;
    case sessions::CallStep::Kind::kForward: {
      ++c.hops;
      c.node = step.owner;
      const std::uint64_t id = c.id;
      after(uniform(config_.min_delay_ms, config_.max_delay_ms), [this, id] {
        Call& later = calls_.at(id);
        if (!later.done) attempt(later);
      });
      return;
    }
    case sessions::CallStep::Kind::kWait:
      wait_call(c, *n, step.until_ms);
      return;
    case sessions::CallStep::Kind::kServe:
      serve(c, *n);
      return;
  }
}

// A call waits on a node for its key (woken by the core's wakes) or until `until`. It counts
// among the key's waiting calls there (NodeCore::kMaxWaitingCalls) until either comes.
void World::wait_call(Call& c, Node& n, std::int64_t until) {
  const std::uint64_t gen = ++c.generation;
  const auto where = std::make_pair(n.name, c.game);
  waiting_.emplace(where, c.id);
  const std::uint64_t id = c.id;
  at(std::max(until, now_ + 1), [this, id, gen, where] {
    auto [b, e] = waiting_.equal_range(where);
    for (auto it = b; it != e; ++it) {
      if (it->second == id) {
        waiting_.erase(it);
        break;
      }
    }
    Call& call = calls_.at(id);
    if (!call.done && call.generation == gen) attempt(call);
  });
}

void World::serve(Call& c, Node& n) {
  SimHost::Session* s = n.host->find(c.game);
  if (s == nullptr) {
    finish(c, "not_found");
    return;
  }
  if (s->frozen)
    fail(fmt::format("{} served {} while it was frozen for a hand-off", n.id(), c.game));
  s->state += fmt::format("{},", c.action);
  trace(fmt::format("{} accepts action {} of {} at epoch {}", n.id(), c.action, c.game, s->epoch));
  checkers_.accepted(n.id(), c.game, s->epoch, now_);
  n.core->changed(c.game);
  carry_ownership(n);
  if (n.core->write_waits_for_peers(sessions::CallKind::kWrite)) {
    auto f = n.store->flush(NodeCore::kSyncTimeoutMs, /*durable=*/true);
    MINOTAUR_ASSERT(static_cast<bool>(f));
    sync_calls_[std::make_pair(n.id(), f.value())] = c.id;
    carry_store(n);
    return;
  }
  acknowledge(c, n);
}

void World::acknowledge(Call& c, const Node& n) {
  c.done = true;
  ++result_.acknowledged;
  checkers_.acknowledged(c.game, Ack{c.action, n.id(), now_, isolated(n.name)});
  trace(fmt::format("ack {} action {} by {}", c.game, c.action, n.id()));
}

void World::finish(Call& c, const std::string& why) {
  c.done = true;
  ++result_.refused;
  if (c.probe) fail(fmt::format("{} was not served after the faults stopped: {}", c.game, why));
}

// After the faults stop and the cluster settled: one call to every game, which must be served.
void World::probe_all() {
  trace("probes: every game must be served");
  for (const std::string& g : games_) start_call(-1, g, true);
}

}  // namespace minotaur::sim
