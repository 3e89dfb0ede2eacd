#include "sim/checkers.h"

#include <fmt/format.h>

#include <optional>

#include "sessions/placement.h"

namespace minotaur::sim {

namespace {

constexpr std::int64_t kQuorumLeaseMs = cluster::MembershipConfig{}.quorum_lease_ms;
// Async replication may lose what was acknowledged this long before a kill or a cut: the store's
// tick, the network delay, and re-sends of lost batches (crdt resend_after_ms, twice).
constexpr std::int64_t kAsyncWindowMs = 600;

std::set<std::string> actions_of(const std::string& state) {
  std::set<std::string> held;
  std::size_t start = 0;
  for (std::size_t i = 0; i < state.size(); ++i) {
    if (state[i] == ',') {
      held.insert(state.substr(start, i - start));
      start = i + 1;
    }
  }
  return held;
}

}  // namespace

Checkers::Checkers(const SimConfig& config, std::function<void(std::string)> fail)
    : config_(config), fail_(std::move(fail)) {}

void Checkers::killed(std::int64_t at_ms, std::string node_id) {
  killed_at_.push_back(std::make_pair(at_ms, std::move(node_id)));
}

void Checkers::cut(std::int64_t at_ms, std::set<std::string> cut_off) {
  cut_at_.push_back(std::make_pair(at_ms, std::move(cut_off)));
}

void Checkers::acknowledged(const std::string& game, Ack ack) {
  acks_[game].push_back(std::move(ack));
}

// One owner at a time: once another instance accepted a change of the game, an instance that
// accepted earlier never accepts again (its time as owner is over), epochs never go down, and
// one epoch is one owner's (the API's epoch names the node that served it).
void Checkers::accepted(const std::string& node_id, const std::string& game, std::uint64_t epoch,
                        std::int64_t now_ms) {
  auto [owner, fresh] = epoch_owner_[game].emplace(epoch, node_id);
  if (!fresh && owner->second != node_id) {
    fail_(
        fmt::format("two owners at one epoch: {} accepted a change of {} at epoch {}, at which "
                    "{} accepted changes before",
                    node_id, game, epoch, owner->second));
  }
  auto it = accepted_.find(game);
  if (it != accepted_.end()) {
    const Accepted& last = it->second;
    if (epoch < last.epoch) {
      fail_(
          fmt::format("two owners: {} accepted a change of {} at epoch {} after {} accepted one "
                      "at epoch {} (t={})",
                      node_id, game, epoch, last.node_id, last.epoch, last.at_ms));
    }
    // An instance is a node incarnation holding the game at one epoch.
    const std::string instance = fmt::format("{}@{}", node_id, epoch);
    const std::string previous = fmt::format("{}@{}", last.node_id, last.epoch);
    if (superseded_[game].count(instance) != 0) {
      fail_(
          fmt::format("two owners: {} accepted a change of {} at epoch {} after {} had taken "
                      "it over",
                      node_id, game, epoch, previous));
    }
    if (previous != instance) superseded_[game].insert(previous);
  }
  accepted_[game] = Accepted{node_id, epoch, now_ms};
}

void Checkers::started(const std::string& node_id, const std::string& game, std::uint64_t epoch,
                       const std::string& state) {
  const std::set<std::string> held = actions_of(state);
  for (const Ack& a : acks_[game]) {
    if (held.count(std::to_string(a.action)) == 0 && !excused(a)) {
      fail_(fmt::format("{} starts {} at epoch {} without acknowledged action {} (by {} at t={})",
                        node_id, game, epoch, a.action, a.node_id, a.at_ms));
    }
  }
}

// Async replication may lose what the acknowledging node had not yet replicated when it was
// killed or cut off.
bool Checkers::excused(const Ack& a) const {
  if (config_.sync) return false;
  if (a.isolated) return true;
  for (const auto& [t, id] : killed_at_) {
    if (id == a.node_id && t >= a.at_ms && t - a.at_ms <= kAsyncWindowMs) return true;
  }
  const std::string name = a.node_id.substr(0, a.node_id.find('#'));
  for (const auto& [t, cut] : cut_at_) {
    // A cut-off node keeps accepting until its quorum lease runs out.
    if (cut.count(name) != 0 && t - a.at_ms <= kAsyncWindowMs &&
        a.at_ms - t <= kQuorumLeaseMs + 100) {
      return true;
    }
  }
  return false;
}

void Checkers::quiescence(const std::vector<std::string>& games, const std::vector<Node*>& live,
                          SimResult& result) {
  for (const std::string& g : games) {
    std::vector<Node*> hosts;
    for (Node* n : live) {
      if (n->host->hosts(g)) hosts.push_back(n);
    }
    if (hosts.size() != 1) {
      fail_(fmt::format("{} is hosted by {} nodes at quiescence", g, hosts.size()));
      if (hosts.empty()) continue;
    }
    Node& h = *hosts.front();
    std::vector<std::string> serving;
    for (const auto& m : h.membership->serving_members()) serving.push_back(m.name);
    if (sessions::owner_of(g, serving) != h.name) {
      fail_(fmt::format("{} is hosted by {}, not by its placement owner {}", g, h.id(),
                        sessions::owner_of(g, serving)));
    }
    const std::set<std::string> held = actions_of(h.host->find(g)->state);
    for (const Ack& a : acks_[g]) {
      if (held.count(std::to_string(a.action)) != 0) continue;
      if (excused(a)) {
        ++result.excused_losses;
        continue;
      }
      fail_(fmt::format("acknowledged action {} of {} (by {} at t={}) is lost", a.action, g,
                        a.node_id, a.at_ms));
    }
  }
  // Every replica of the store holds the same entries.
  std::optional<std::map<std::string, std::string>> first;
  std::string first_id;
  for (Node* n : live) {
    std::map<std::string, std::string> m;
    n->store->replica().map().for_each(
        [&](const std::string& k, const auto& e) { m[k] = e.value; });
    if (!first) {
      first = std::move(m);
      first_id = n->id();
    } else if (m != *first) {
      fail_(fmt::format("the store replicas of {} and {} differ at quiescence", first_id, n->id()));
    }
  }
}

}  // namespace minotaur::sim
