#include "cluster/membership_sim.h"

#include <algorithm>
#include <string_view>

#include "base/assert.h"

namespace minotaur::cluster {

MembershipSim::MembershipSim(SimOptions options) : options_(options), rng_(options.seed) {
  MINOTAUR_ASSERT(options_.min_delay_ms >= 0 && options_.min_delay_ms <= options_.max_delay_ms);
  MINOTAUR_ASSERT(options_.loss_probability >= 0.0 && options_.loss_probability < 1.0);
  MINOTAUR_ASSERT(options_.tick_interval_ms > 0 && options_.dial_retry_ms > 0);
}

void MembershipSim::record(std::string_view what) {
  for (const char c : what) {
    trace_hash_ ^= static_cast<unsigned char>(c);
    trace_hash_ *= 0x100000001b3ULL;
  }
}

std::pair<std::string, std::string> MembershipSim::key(const std::string& a, const std::string& b) {
  return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
}

std::int64_t MembershipSim::delay() {
  std::uniform_int_distribution<std::int64_t> d(options_.min_delay_ms, options_.max_delay_ms);
  return d(rng_);
}

void MembershipSim::schedule(std::int64_t delay_ms, std::function<void()> fn) {
  MINOTAUR_ASSERT(delay_ms >= 0);
  queue_.emplace(std::make_pair(now_ms_ + delay_ms, seq_++), std::move(fn));
}

transport::NodeIdentity MembershipSim::identity(const Node& n) const {
  return transport::NodeIdentity{n.name, n.incarnation, n.address};
}

MembershipSim::Node* MembershipSim::node_at(const std::string& address) {
  for (auto& [name, n] : nodes_) {
    if (n.address == address) return &n;
  }
  return nullptr;
}

bool MembershipSim::responsive(const std::string& name, std::uint64_t life) const {
  auto it = nodes_.find(name);
  return it != nodes_.end() && it->second.alive && !it->second.frozen && it->second.life == life;
}

void MembershipSim::add_node(const std::string& name, const std::vector<std::string>& seed_names) {
  MINOTAUR_ASSERT(!nodes_.contains(name));
  Node& n = nodes_[name];
  n.name = name;
  n.address = name + ".sim:7000";
  n.seed_names = seed_names;
  start(n);
}

void MembershipSim::start(Node& n) {
  n.incarnation = next_incarnation_;
  next_incarnation_ += 1000;
  n.alive = true;
  n.frozen = false;
  n.dial_targets.clear();
  MembershipConfig c;
  c.self = identity(n);
  for (const auto& s : n.seed_names) c.seeds.push_back(s + ".sim:7000");
  c.heartbeat_interval_ms = options_.heartbeat_interval_ms;
  c.failure_timeout_ms = options_.failure_timeout_ms;
  n.membership = std::make_unique<Membership>(c);
  record("start " + n.name + " " + std::to_string(n.incarnation));
  apply(n, n.membership->start(now_ms_));
  const std::string name = n.name;
  const std::uint64_t life = n.life;
  schedule(options_.tick_interval_ms, [this, name, life] { tick(name, life); });
  schedule(0, [this, name, life] { dial(name, life); });
}

void MembershipSim::tick(const std::string& name, std::uint64_t life) {
  Node& n = nodes_.at(name);
  if (!n.alive || n.life != life) return;
  if (!n.frozen) apply(n, n.membership->tick(now_ms_));
  schedule(options_.tick_interval_ms, [this, name, life] { tick(name, life); });
}

void MembershipSim::dial(const std::string& name, std::uint64_t life) {
  Node& n = nodes_.at(name);
  if (!n.alive || n.life != life) return;
  if (!n.frozen) {
    const std::vector<std::string> targets(n.dial_targets.begin(), n.dial_targets.end());
    for (const std::string& address : targets) {
      if (address == n.address) {
        n.dial_targets.erase(address);
        apply(n, n.membership->on_dialed_self(address, now_ms_));
        continue;
      }
      Node* peer = node_at(address);
      if (peer == nullptr || !responsive(peer->name, peer->life)) continue;
      if (conns_.contains(key(n.name, peer->name))) continue;
      const std::string other = peer->name;
      const std::uint64_t other_life = peer->life;
      schedule(delay(), [this, name, life, other, other_life] {
        if (!responsive(name, life) || !responsive(other, other_life)) return;
        const auto k = key(name, other);
        if (conns_.contains(k)) return;
        Node& a = nodes_.at(name);
        Node& b = nodes_.at(other);
        conns_[k] = k.first == name ? std::make_pair(a.incarnation, b.incarnation)
                                    : std::make_pair(b.incarnation, a.incarnation);
        record("connect " + k.first + " " + k.second);
        apply(a, a.membership->on_peer_connected(identity(b), now_ms_));
        apply(b, b.membership->on_peer_connected(identity(a), now_ms_));
      });
    }
  }
  schedule(options_.dial_retry_ms, [this, name, life] { dial(name, life); });
}

void MembershipSim::apply(Node& n, Step step) {
  for (const auto& e : step.events) {
    record(n.name + " saw " + e.member.name + "#" + std::to_string(e.member.incarnation) + " " +
           to_string(e.kind) + " @" + std::to_string(e.at_ms));
    n.events.push_back(e);
  }
  for (const auto& a : step.forget) n.dial_targets.erase(a);
  for (const auto& a : step.connect) n.dial_targets.insert(a);
  for (const auto& s : step.sends) {
    auto it = nodes_.find(s.to);
    if (it == nodes_.end()) continue;
    const Node& to = it->second;
    auto c = conns_.find(key(n.name, s.to));
    if (c == conns_.end()) continue;  // not connected: the transport refuses the send
    std::uniform_real_distribution<double> u(0.0, 1.0);
    if (u(rng_) < options_.loss_probability) continue;
    const std::string payload = encode_membership(s.message);
    const transport::NodeIdentity from = identity(n);
    const std::string to_name = to.name;
    const std::uint64_t to_life = to.life;
    const auto conn_incs = c->second;
    schedule(delay(), [this, from, to_name, to_life, conn_incs, payload] {
      if (!responsive(to_name, to_life)) return;
      auto c2 = conns_.find(key(from.name, to_name));
      if (c2 == conns_.end() || c2->second != conn_incs) return;  // that connection closed
      auto m = decode_membership(payload);
      MINOTAUR_ASSERT(m.ok());
      ++delivered_;
      Node& dst = nodes_.at(to_name);
      apply(dst, dst.membership->on_message(from, m.value(), now_ms_));
    });
  }
}

void MembershipSim::close_connections(const std::string& name) {
  const Node& dead = nodes_.at(name);
  const transport::NodeIdentity gone = identity(dead);
  for (auto it = conns_.begin(); it != conns_.end();) {
    if (it->first.first != name && it->first.second != name) {
      ++it;
      continue;
    }
    const std::string other = it->first.first == name ? it->first.second : it->first.first;
    const std::uint64_t other_life = nodes_.at(other).life;
    it = conns_.erase(it);
    schedule(delay(), [this, other, other_life, gone] {
      if (!responsive(other, other_life)) return;
      Node& o = nodes_.at(other);
      apply(o, o.membership->on_peer_disconnected(gone, now_ms_));
    });
  }
}

void MembershipSim::crash(const std::string& name) {
  Node& n = nodes_.at(name);
  if (!n.alive) return;
  record("crash " + name);
  close_connections(name);
  n.alive = false;
  ++n.life;
}

void MembershipSim::freeze(const std::string& name) {
  record("freeze " + name);
  nodes_.at(name).frozen = true;
}

void MembershipSim::leave_and_exit(const std::string& name, std::int64_t exit_after_ms) {
  Node& n = nodes_.at(name);
  MINOTAUR_ASSERT(n.alive);
  record("leave " + name);
  apply(n, n.membership->leave(now_ms_));
  const std::uint64_t life = n.life;
  schedule(exit_after_ms, [this, name, life] {
    if (nodes_.at(name).life == life) crash(name);
  });
}

void MembershipSim::restart(const std::string& name) {
  crash(name);
  Node& n = nodes_.at(name);
  start(n);
}

void MembershipSim::run_for(std::int64_t ms) {
  run_until([] { return false; }, ms);
}

bool MembershipSim::run_until(const std::function<bool()>& pred, std::int64_t max_ms) {
  const std::int64_t end = now_ms_ + max_ms;
  if (pred()) return true;
  while (!queue_.empty() && queue_.begin()->first.first <= end) {
    auto it = queue_.begin();
    now_ms_ = it->first.first;
    std::function<void()> fn = std::move(it->second);
    queue_.erase(it);
    fn();
    if (pred()) return true;
  }
  now_ms_ = end;
  return pred();
}

bool MembershipSim::alive(const std::string& name) const {
  return nodes_.at(name).alive;
}

const Membership& MembershipSim::membership(const std::string& name) const {
  return *nodes_.at(name).membership;
}

std::vector<std::string> MembershipSim::serving(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& m : membership(name).serving_members()) out.push_back(m.name);
  return out;
}

const std::vector<MemberEvent>& MembershipSim::events(const std::string& name) const {
  return nodes_.at(name).events;
}

std::optional<std::int64_t> MembershipSim::first_event_ms(const std::string& observer,
                                                          const std::string& subject,
                                                          MemberStatus kind,
                                                          std::uint64_t incarnation) const {
  for (const auto& e : events(observer)) {
    if (e.member.name == subject && e.kind == kind &&
        (incarnation == 0 || e.member.incarnation == incarnation)) {
      return e.at_ms;
    }
  }
  return std::nullopt;
}

bool MembershipSim::all_serve(const std::vector<std::string>& names) const {
  std::vector<std::string> want = names;
  std::sort(want.begin(), want.end());
  for (const auto& [name, n] : nodes_) {
    if (!n.alive || n.frozen) continue;
    if (serving(name) != want) return false;
  }
  return true;
}

}  // namespace minotaur::cluster
