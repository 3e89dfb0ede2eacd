// The node processes: a start (a new incarnation, its cores, its connections and ticks), the
// periodic ticks of its timers, a stall's deferral, SIGTERM with the drain and the store's last
// flush, and the exits.
#include <fmt/format.h>

#include "base/assert.h"
#include "sim/world_impl.h"

namespace minotaur::sim {

using sessions::NodeCore;

void World::start_node(const std::string& name) {
  if (crashed_.erase(name) != 0) repaired_at_ = now_;
  Node& n = nodes_[name];
  n.name = name;
  n.incarnation = ++incarnations_;
  n.phase = Phase::kRunning;
  n.drain_flush.reset();
  cluster::MembershipConfig mc;
  mc.self = transport::NodeIdentity{name, n.incarnation, address_of(name)};
  for (const std::string& other : names_) {
    if (other != name) mc.seeds.push_back(address_of(other));
  }
  n.membership = std::make_unique<cluster::Membership>(mc);
  n.store = std::make_unique<handoff::StoreCore>(name, n.incarnation, [this] { return now_; });
  if (config_.disks) {
    // As `minotaur node --data-dir` starts: the replica from the disk, before any peer.
    const bool loaded = n.store->load(disks_[name].snapshot()).ok();
    MINOTAUR_ASSERT(loaded);
    n.store->set_unsafe_skip_disk_wait(config_.unsafe_skip_disk_wait);
  }
  n.host = std::make_unique<SimHost>();
  n.host->on_install = [this, id = n.id()](const std::string& key, const SimHost::Session& s) {
    trace(fmt::format("{} starts {} at epoch {}", id, key, s.epoch));
    checkers_.started(id, key, s.epoch, s.state);
  };
  sessions::OwnershipOptions oo;
  oo.self = name;
  oo.self_id = n.id();
  oo.sync = config_.sync;
  oo.unsafe_skip_ack = config_.unsafe_skip_ack;
  oo.unsafe_skip_confirm = config_.unsafe_skip_confirm;
  n.core = std::make_unique<NodeCore>(oo, *n.host, n.store.get());
  n.stale_lease = sessions::Lease{};
  trace(fmt::format("start {}", n.id()));
  apply(n, n.membership->start(now_));
  const std::uint64_t inc = n.incarnation;
  // Connections to every reachable live node, after a dial delay.
  for (const std::string& other : names_) {
    if (other == name) continue;
    after(uniform(config_.min_delay_ms, config_.max_delay_ms), [this, name, other, inc] {
      if (Node* a = live(name); a != nullptr && a->incarnation == inc) connect(name, other);
    });
  }
  schedule_ticks(name, inc);
}

// Each incarnation's three periodic ticks, at the periods of the node's timers.
void World::schedule_ticks(const std::string& name, std::uint64_t inc) {
  constexpr std::int64_t kMembershipTickMs = cluster::Membership::kTickMs;
  schedule_tick(name, inc, kMembershipTickMs, kMembershipTickMs, [this, name](Node& n) {
    apply(n, n.membership->tick(now_));
    const Node* still = live(name);
    if (still == nullptr || still->incarnation != n.incarnation) return false;
    if (n.membership->self_down()) {
      trace(fmt::format("{} was declared down by the cluster; exits and restarts", n.id()));
      crashed_.insert(name);
      crash(n);
      after(uniform(200, 1000), [this, name] {
        if (live(name) == nullptr && restart_pending_.count(name) == 0) start_node(name);
      });
      return false;
    }
    return true;
  });
  constexpr std::int64_t kStoreTickMs = handoff::StoreCore::kTickMs;
  schedule_tick(name, inc, kStoreTickMs, kStoreTickMs, [this](Node& n) {
    n.store->tick();
    carry_store(n);
    return true;
  });
  schedule_tick(name, inc, NodeCore::kTickMs, NodeCore::kTickMs, [this](Node& n) {
    n.stale_lease = lease(n);
    n.core->tick(n.stale_lease, now_);
    carry_ownership(n);
    check_drained(n);
    return true;
  });
  if (config_.disks) {
    constexpr std::int64_t kCommitMs = handoff::StoreCore::kCommitIntervalMs;
    schedule_tick(name, inc, kCommitMs, kCommitMs, [this](Node& n) {
      commit(n);
      return true;
    });
  }
}

// One batch at a time, as the node's writer thread writes it: on the disk after a write of
// 1-8 ms, unless the node dies first (the batch is then lost); a stalled node's write completes
// when it runs again.
void World::commit(Node& n) {
  if (!config_.disks) return;
  auto batch = n.store->take_batch();
  if (!batch) return;
  auto b = std::make_shared<const storage::Batch>(std::move(*batch));
  after(uniform(1, 8), [this, name = n.name, inc = n.incarnation, b] { written(name, inc, b); });
}

// A batch's write completes: on the disk, unless its process died meanwhile.
void World::written(const std::string& name, std::uint64_t inc,
                    const std::shared_ptr<const storage::Batch>& b) {
  Node* w = live(name);
  if (w == nullptr || w->incarnation != inc) {
    trace(fmt::format("{}#{}: batch {} lost with its process", name, inc, b->seq));
    return;
  }
  if (deferred(*w, [this, name, inc, b] { written(name, inc, b); })) return;
  disks_[name].apply(*b);
  w->store->on_committed(b->seq, true);
  carry_store(*w);
  if (w->phase == Phase::kWriting) write_before_exit(*w);
}

// A frozen node runs f when it thaws; true when it deferred it.
bool World::deferred(const Node& n, const std::function<void()>& f) {
  if (now_ >= n.frozen_until) return false;
  at(n.frozen_until, f);
  return true;
}

// One periodic timer of an incarnation: `body` runs every `period` ms while it lives (a stalled
// node runs it when it thaws, then on its period again) until it returns false.
void World::schedule_tick(const std::string& name, std::uint64_t inc, std::int64_t period,
                          std::int64_t delay, std::function<bool(Node&)> body) {
  after(delay, [this, name, inc, period, body = std::move(body)] {
    Node* n = live(name);
    if (n == nullptr || n->incarnation != inc) return;
    if (now_ < n->frozen_until) {
      schedule_tick(name, inc, period, n->frozen_until - now_, body);
      return;
    }
    if (body(*n)) schedule_tick(name, inc, period, period, body);
  });
}

// The leases now; always held in the broken variant unsafe_no_quorum.
sessions::Lease World::lease(const Node& n) const {
  if (config_.unsafe_no_quorum) return sessions::Lease{true, true};
  return sessions::Lease{n.membership->has_quorum(now_), n.membership->all_in_touch(now_)};
}

// SIGKILL, or an exit: connections close (the peers see it after a delay), state is gone.
void World::crash(Node& n) {
  n.phase = Phase::kDead;
  for (const std::string& other : names_) disconnect(n.name, other);
}

// SIGTERM: leave, hand everything off, flush the store, exit.
void World::stop_gracefully(Node& n) {
  trace(fmt::format("SIGTERM {}", n.id()));
  n.phase = Phase::kDraining;
  n.drain_started_ms = now_;
  apply(n, n.membership->leave(now_));
  n.core->drain(now_);
  carry_ownership(n);
}

void World::check_drained(Node& n) {
  if (n.phase != Phase::kDraining) return;
  if (!n.core->drain_over(now_)) return;
  if (!n.host->keys().empty()) {
    trace(fmt::format("{}: drain bound passed with sessions left", n.id()));
  }
  auto f = n.store->flush(NodeCore::kStoreFlushBoundMs);
  MINOTAUR_ASSERT(static_cast<bool>(f));
  n.drain_flush = f.value();
  n.phase = Phase::kFlushing;
  carry_store(n);
}

void World::exit_after_drain(Node& n) {
  if (config_.disks) {
    n.phase = Phase::kWriting;
    n.writing_since_ms = now_;
    write_before_exit(n);
    return;
  }
  trace(fmt::format("{} drained in {} ms; exits", n.id(), now_ - n.drain_started_ms));
  crash(n);
}

// A data dir's last step of the drain: everything the store holds on the disk, within the
// node's bound, then the exit.
void World::write_before_exit(Node& n) {
  if (n.store->disk_behind() && now_ - n.writing_since_ms < NodeCore::kDiskWriteBoundMs) {
    commit(n);  // nothing when a batch is being written: its completion comes back here
    return;
  }
  trace(fmt::format("{} drained in {} ms, store on the disk; exits", n.id(),
                    now_ - n.drain_started_ms));
  crash(n);
}

}  // namespace minotaur::sim
