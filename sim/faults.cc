// The faults, drawn by the seeded generator during the fault phase (Fault, one function each),
// their repair (restarts, healing), the end of the fault phase, and the operator's removals of
// members that are down.
#include <fmt/format.h>

#include "sim/world_impl.h"

namespace minotaur::sim {

namespace {

// After a kill or a cut is repaired, the next one waits this long: the failure detector, the
// store's anti-entropy and the pick-ups settle (see SimConfig::overlapping_faults).
constexpr std::int64_t kRepairSettleMs = 2'000;

}  // namespace

bool World::enabled(Fault f) const {
  switch (f) {
    case Fault::kStop:
      return config_.stops;
    case Fault::kKill:
      return config_.kills;
    case Fault::kPartition:
      return config_.partitions;
    case Fault::kStall:
      return config_.freezes;
    case Fault::kPowerCut:
      return config_.disks && config_.kills;
  }
  return false;
}

void World::maybe_fault() {
  if (!chance(0.004)) return;  // about one fault every 2.5 s
  std::vector<std::string> up;
  for (const std::string& name : names_) {
    if (Node* n = live(name); n != nullptr && n->phase == Phase::kRunning) up.push_back(name);
  }
  // Power cuts only in runs with disks (the range of the draw is what it was without them, so
  // that a seed of such a run replays as before).
  const Fault kind = static_cast<Fault>(uniform(0, config_.disks ? 4 : (config_.freezes ? 3 : 2)));
  if (!enabled(kind)) return;
  if (kind != Fault::kStop && !config_.overlapping_faults &&
      (!side_.empty() || !crashed_.empty() || !frozen_.empty() ||
       now_ < repaired_at_ + kRepairSettleMs)) {
    return;  // one failure at a time
  }
  switch (kind) {
    case Fault::kStall:
      stall_one(up);
      return;
    case Fault::kPartition:
      cut_a_minority();
      return;
    case Fault::kStop:
      stop_one(up);
      return;
    case Fault::kKill:
      kill_one(up);
      return;
    case Fault::kPowerCut:
      power_cut();
      return;
  }
}

// A stall: the process stops running for a while, sometimes past the failure bound, so that the
// cluster declares it down and starts its sessions elsewhere; when it runs again it must accept
// nothing on what it knew before.
void World::stall_one(const std::vector<std::string>& up) {
  if (up.empty()) return;
  const std::string victim =
      up[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(up.size()) - 1))];
  Node& v = node(victim);
  const std::int64_t pause = uniform(200, 4000);
  trace(fmt::format("{} stalls for {} ms", v.id(), pause));
  ++result_.faults;
  // What it acknowledged and had not yet replicated may be lost, as in a kill (async).
  checkers_.killed(now_, v.id());
  v.frozen_until = now_ + pause;
  frozen_.insert(victim);
  maybe_remove_later(victim);
  at(v.frozen_until, [this, victim] {
    trace(fmt::format("{} runs again", victim));
    frozen_.erase(victim);
    repaired_at_ = now_;
  });
}

// A partition: a random minority is cut off from the rest, healed later.
void World::cut_a_minority() {
  if (!side_.empty()) return;
  std::vector<std::string> shuffled = names_;
  for (std::size_t i = shuffled.size(); i > 1; --i) {
    std::swap(shuffled[i - 1],
              shuffled[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(i) - 1))]);
  }
  const std::size_t cut =
      static_cast<std::size_t>(uniform(1, std::max(1, (config_.nodes - 1) / 2)));
  std::string line = "partition: {";
  for (std::size_t i = 0; i < shuffled.size(); ++i) {
    side_[shuffled[i]] = i < cut ? 1 : 0;
    if (i < cut) line += shuffled[i] + " ";
  }
  trace(line + "} cut off");
  checkers_.cut(now_, std::set<std::string>(shuffled.begin(),
                                            shuffled.begin() + static_cast<std::ptrdiff_t>(cut)));
  for (const std::string& a : names_) {
    for (const std::string& b : names_) {
      if (a < b && partitioned(a, b)) disconnect(a, b);
    }
  }
  ++result_.faults;
  maybe_remove_later(shuffled.front());
  after(uniform(500, 4000), [this] { heal(); });
}

// A graceful stop of a running node, while a majority stays up; the deploy restarts it once it
// has exited.
void World::stop_one(const std::vector<std::string>& up) {
  const std::optional<std::string> victim = take_down(up);
  if (!victim) return;
  Node& v = node(*victim);
  stop_gracefully(v);
  wait_exit_then_restart(*victim, v.incarnation);
}

// A kill of a running node, while a majority stays up; restarted after a while, as a
// supervisor would.
void World::kill_one(const std::vector<std::string>& up) {
  const std::optional<std::string> victim = take_down(up);
  if (!victim) return;
  Node& v = node(*victim);
  trace(fmt::format("SIGKILL {}", v.id()));
  checkers_.killed(now_, v.id());
  crashed_.insert(*victim);
  crash(v);
  after(uniform(300, 3000), [this, victim = *victim] {
    restart_pending_.erase(victim);
    if (live(victim) == nullptr) start_node(victim);
  });
}

// A power cut: every node dies at once, whatever it was doing; what its disk holds is all that
// is left of it. They come back one by one, as machines boot: the first ones wait for their
// seeds, and no session is started from an older copy while the node that held it is away.
void World::power_cut() {
  trace("power cut: every node dies");
  ++result_.faults;
  for (const std::string& name : names_) {
    restart_pending_.insert(name);
    Node* n = live(name);
    if (n == nullptr) continue;
    checkers_.killed(now_, n->id());
    crashed_.insert(name);
    n->frozen_until = 0;  // a stalled machine loses power too
    frozen_.erase(name);
    crash(*n);
  }
  for (const std::string& name : names_) {
    after(uniform(300, 3000), [this, name] {
      restart_pending_.erase(name);
      if (live(name) == nullptr) start_node(name);
    });
  }
}

// The running node a stop or a kill takes down, counted as a fault, its restart pending;
// nothing when one more node down would leave no majority.
std::optional<std::string> World::take_down(const std::vector<std::string>& up) {
  const int down = config_.nodes - static_cast<int>(up.size());
  const int max_down = (config_.nodes - 1) / 2;
  if (down >= max_down || up.empty()) return std::nullopt;
  const std::string victim =
      up[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(up.size()) - 1))];
  ++result_.faults;
  restart_pending_.insert(victim);
  maybe_remove_later(victim);
  return victim;
}

void World::wait_exit_then_restart(const std::string& name, std::uint64_t inc) {
  after(50, [this, name, inc] {
    Node* n = live(name);
    if (n != nullptr && n->incarnation == inc) {
      wait_exit_then_restart(name, inc);
      return;
    }
    after(uniform(100, 1000), [this, name] {
      restart_pending_.erase(name);
      if (live(name) == nullptr) start_node(name);
    });
  });
}

void World::heal() {
  if (side_.empty()) return;
  trace("partition healed");
  side_.clear();
  repaired_at_ = now_;
  for (const std::string& a : names_) {
    for (const std::string& b : names_) {
      if (a < b) connect(a, b);
    }
  }
}

void World::end_faults() {
  trace("faults stop");
  heal();
  for (const std::string& name : names_) {
    if (live(name) == nullptr && restart_pending_.count(name) == 0) start_node(name);
  }
}

// The operator sees a member gone and, a while later, removes its name through some live node,
// as the admin endpoint does (no force: the guarantees hold for what the protocol decides).
void World::maybe_remove_later(const std::string& victim) {
  if (!config_.removals || !chance(0.5)) return;
  after(uniform(500, 3000), [this, victim] { operator_removal(victim); });
}

void World::operator_removal(const std::string& victim) {
  std::vector<std::string> running;
  for (const std::string& name : names_) {
    if (Node* n = live(name); n != nullptr && now_ >= n->frozen_until) running.push_back(name);
  }
  if (running.empty()) return;
  Node& via = node(
      running[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(running.size()) - 1))]);
  if (!config_.unsafe_force_removals) {
    remove_through(via, victim, false);
    return;
  }
  // The broken variant: every name this node does not hear, with force.
  for (const std::string& name : names_) {
    if (name != via.name && live(via.name) != nullptr) remove_through(via, name, true);
  }
}

void World::remove_through(Node& via, const std::string& victim, bool force) {
  auto removed = via.membership->remove(victim, force, now_);
  if (!removed) {
    static constexpr const char* kWhy[] = {"unknown", "alive", "no quorum", "busy"};
    trace(fmt::format("operator: {} refuses to remove {} ({})", via.id(), victim,
                      kWhy[static_cast<int>(removed.error().error)]));
    return;
  }
  ++result_.removals;
  trace(fmt::format("operator: {} removes {}{}", via.id(), victim, force ? " with force" : ""));
  apply(via, std::move(removed).value());
}

}  // namespace minotaur::sim
