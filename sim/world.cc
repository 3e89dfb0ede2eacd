#include "sim/world.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <variant>

#include "base/assert.h"
#include "cluster/membership.h"
#include "base/stable_hash.h"
#include "handoff/stash.h"
#include "handoff/store_core.h"
#include "sessions/node_core.h"
#include "sessions/placement.h"

namespace minotaur::sim {

namespace {

using sessions::NodeCore;

constexpr std::int64_t kQuorumLeaseMs = cluster::MembershipConfig{}.quorum_lease_ms;
constexpr std::int64_t kSettleMs = 6'000;        // after the faults stop, before the probes
constexpr std::int64_t kServedBoundMs = 10'000;  // a probe must be acknowledged within this
// Async replication may lose what was acknowledged this long before a kill or a cut: the store's
// tick, the network delay, and re-sends of lost batches (crdt resend_after_ms, twice).
constexpr std::int64_t kAsyncWindowMs = 600;
// After a kill or a cut is repaired, the next one waits this long: the failure detector, the
// store's anti-entropy and the pick-ups settle (see SimConfig::overlapping_faults).
constexpr std::int64_t kRepairSettleMs = 2'000;

// ---- the session host: opaque states ---------------------------------------------------------
// A state is the list of accepted action ids, as text ("17,42,"), so that it travels as bytes.

class SimHost final : public sessions::SessionStates {
 public:
  struct Session {
    std::uint64_t epoch = 0;
    std::string state;
    bool frozen = false;
  };
  bool hosts(const std::string& key) const override { return sessions_.count(key) != 0; }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [k, s] : sessions_) out.push_back(k);
    return out;
  }
  std::uint64_t epoch(const std::string& key) const override {
    auto it = sessions_.find(key);
    return it == sessions_.end() ? 0 : it->second.epoch;
  }
  std::pair<std::string, bool> export_state(const std::string& key) const override {
    return {sessions_.at(key).state, true};
  }
  Result<Ok, std::string> install(const std::string& key, std::string_view state, bool,
                                  std::uint64_t epoch) override {
    if (hosts(key)) return err(std::string("already hosted"));
    sessions_[key] = Session{epoch, std::string(state), false};
    if (on_install) on_install(key, sessions_[key]);
    return Ok{};
  }
  void remove(const std::string& key) override { sessions_.erase(key); }
  void set_frozen(const std::string& key, bool frozen) override {
    if (auto it = sessions_.find(key); it != sessions_.end()) it->second.frozen = frozen;
  }
  bool frozen(const std::string& key) const override {
    auto it = sessions_.find(key);
    return it != sessions_.end() && it->second.frozen;
  }
  std::function<void(const std::string&, const Session&)> on_install;
  Session* find(const std::string& key) {
    auto it = sessions_.find(key);
    return it == sessions_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, Session> sessions_;
};

// ---- messages --------------------------------------------------------------------------------

struct MembershipMsg {
  cluster::v1::MembershipMessage message;
};
struct StoreMsg {
  crdt::SyncMessage message;
};
struct SessionMsg {
  sessions::v1::Envelope envelope;
};
using Message = std::variant<MembershipMsg, StoreMsg, SessionMsg>;

// ---- nodes -----------------------------------------------------------------------------------

enum class Phase { kRunning, kDraining, kFlushing, kDead };

struct Node {
  std::string name;
  std::uint64_t incarnation = 0;
  Phase phase = Phase::kDead;
  // The protocol code a node runs, driven here as the node's Asio shells drive it.
  std::unique_ptr<cluster::Membership> membership;
  std::unique_ptr<handoff::StoreCore> store;
  std::unique_ptr<SimHost> host;
  std::unique_ptr<NodeCore> core;
  // The lease as read at the last tick or member event: what the broken variant
  // unsafe_stale_quorum decides calls on.
  sessions::Lease stale_lease;
  std::int64_t drain_started_ms = 0;
  std::optional<crdt::FlushId> drain_flush;
  // A stalled process (a long pause, SIGSTOP): until then nothing of it runs; what arrives for
  // it waits, in order, as in its socket buffers.
  std::int64_t frozen_until = 0;
  bool alive() const { return phase != Phase::kDead; }
  std::string id() const { return fmt::format("{}#{}", name, incarnation); }
};

// One client call, from the first node it reached to its end.
struct Call {
  std::uint64_t id = 0;
  int client = 0;
  std::string game;  // key
  std::uint64_t action = 0;
  std::string node;  // where it is now
  std::uint32_t hops = 0;
  std::int64_t deadline_ms = 0;
  std::uint64_t generation = 0;  // of its current wait; a stale timer does nothing
  bool probe = false;
  bool done = false;
};

struct Accepted {  // the last change a game accepted, for the one-owner checker
  std::string node_id;
  std::uint64_t epoch = 0;
  std::int64_t at_ms = 0;
};

struct Ack {
  std::uint64_t action = 0;
  std::string node_id;
  std::int64_t at_ms = 0;
  // No other live node was on its side of a partition: it had nobody to replicate to (its
  // quorum lease may still run on confirmations from nodes that died a moment ago).
  bool isolated = false;
};

class World {
 public:
  explicit World(const SimConfig& c) : config_(c), rng_(c.seed) {
    for (int i = 0; i < c.nodes; ++i) names_.push_back(fmt::format("n{}", i + 1));
    for (int g = 0; g < c.games; ++g) games_.push_back(sessions::game_key(fmt::format("g{}", g)));
  }

  SimResult run() {
    for (const std::string& n : names_) start_node(n);
    // The games exist before the load starts: created through the first node.
    at(300, [this] {
      for (const std::string& g : games_) create(g);
    });
    const std::int64_t load_start = 2'000;
    for (int c = 0; c < config_.clients; ++c) {
      at(load_start + uniform(0, 100), [this, c] { client_step(c); });
    }
    fault_end_ms_ = load_start + config_.steps * 10;
    if (config_.faults) {
      for (std::int64_t t = load_start + 500; t < fault_end_ms_; t += 10) {
        at(t, [this] { maybe_fault(); });
      }
    }
    // The faults stop: heal, restart what is down, let it settle, then every game must serve.
    at(fault_end_ms_, [this] { end_faults(); });
    at(fault_end_ms_ + kSettleMs, [this] { probe_all(); });
    const std::int64_t end = fault_end_ms_ + kSettleMs + kServedBoundMs + 2'000;
    run_until(end);
    check_quiescence();
    result_.trace_hash = trace_hash_;
    result_.ok = result_.failures.empty();
    const std::size_t tail = std::min(config_.trace_tail, trace_.size());
    result_.trace_tail.assign(trace_.end() - static_cast<std::ptrdiff_t>(tail), trace_.end());
    return std::move(result_);
  }

 private:
  // ---- time and events ----

  void at(std::int64_t when, std::function<void()> f) {
    queue_.emplace(std::make_pair(std::max(when, now_), next_seq_++), std::move(f));
  }
  void after(std::int64_t delay, std::function<void()> f) { at(now_ + delay, std::move(f)); }

  void run_until(std::int64_t end) {
    while (!queue_.empty() && queue_.begin()->first.first <= end) {
      auto node = queue_.extract(queue_.begin());
      now_ = node.key().first;
      ++result_.events;
      node.mapped()();
    }
    now_ = end;
  }

  std::int64_t uniform(std::int64_t lo, std::int64_t hi) {  // inclusive; portable
    return lo + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool chance(double p) {
    return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) < p;
  }

  void trace(std::string line) {
    line = fmt::format("{:>7} {}", now_, line);
    trace_hash_ = trace_hash_ * 1099511628211ULL ^ stable_hash(line);
    trace_.push_back(std::move(line));
    if (trace_.size() > 4 * config_.trace_tail) {
      trace_.erase(trace_.begin(),
                   trace_.begin() + static_cast<std::ptrdiff_t>(config_.trace_tail));
    }
  }

  void fail(std::string what) {
    trace("CHECK FAILED: " + what);
    if (result_.failures.size() < 20)
      result_.failures.push_back(fmt::format("t={} {}", now_, what));
  }

  Node& node(const std::string& name) { return nodes_.at(name); }
  Node* live(const std::string& name) {
    auto it = nodes_.find(name);
    return it == nodes_.end() || !it->second.alive() ? nullptr : &it->second;
  }

  // ---- processes ----

  void start_node(const std::string& name) {
    if (crashed_.erase(name) != 0) repaired_at_ = now_;
    Node& n = nodes_[name];
    n.name = name;
    n.incarnation = ++incarnations_;
    n.phase = Phase::kRunning;
    n.drain_flush.reset();
    cluster::MembershipConfig mc;
    mc.self = transport::NodeIdentity{name, n.incarnation, address(name)};
    for (const std::string& other : names_) {
      if (other != name) mc.seeds.push_back(address(other));
    }
    n.membership = std::make_unique<cluster::Membership>(mc);
    n.store = std::make_unique<handoff::StoreCore>(name, n.incarnation, [this] { return now_; });
    n.host = std::make_unique<SimHost>();
    n.host->on_install = [this, id = n.id()](const std::string& key, const SimHost::Session& s) {
      trace(fmt::format("{} starts {} at epoch {}", id, key, s.epoch));
      // Every acknowledged action so far must be in the state a session starts from, unless
      // async replication may have lost it.
      const std::set<std::string> held = actions_of(s.state);
      for (const Ack& a : acks_[key]) {
        if (held.count(std::to_string(a.action)) == 0 && !excused(a)) {
          fail(
              fmt::format("{} starts {} at epoch {} without acknowledged action {} (by {} at t={})",
                          id, key, s.epoch, a.action, a.node_id, a.at_ms));
        }
      }
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
  void schedule_ticks(const std::string& name, std::uint64_t inc) {
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
  }
  // A frozen node runs f when it thaws; true when it deferred it.
  bool deferred(const Node& n, const std::function<void()>& f) {
    if (now_ >= n.frozen_until) return false;
    at(n.frozen_until, f);
    return true;
  }

  // One periodic timer of an incarnation: `body` runs every `period` ms while it lives (a stalled
  // node runs it when it thaws, then on its period again) until it returns false.
  void schedule_tick(const std::string& name, std::uint64_t inc, std::int64_t period,
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
  sessions::Lease lease(const Node& n) const {
    if (config_.unsafe_no_quorum) return sessions::Lease{true, true};
    return sessions::Lease{n.membership->has_quorum(now_), n.membership->all_in_touch(now_)};
  }

  static std::string address(const std::string& name) { return name + ":7000"; }

  // SIGKILL, or an exit: connections close (the peers see it after a delay), state is gone.
  void crash(Node& n) {
    n.phase = Phase::kDead;
    for (const std::string& other : names_) disconnect(n.name, other);
  }

  // SIGTERM: leave, hand everything off, flush the store, exit.
  void stop_gracefully(Node& n) {
    trace(fmt::format("SIGTERM {}", n.id()));
    n.phase = Phase::kDraining;
    n.drain_started_ms = now_;
    apply(n, n.membership->leave(now_));
    n.core->drain(now_);
    carry_ownership(n);
  }

  void check_drained(Node& n) {
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

  void exit_after_drain(Node& n) {
    trace(fmt::format("{} drained in {} ms; exits", n.id(), now_ - n.drain_started_ms));
    crash(n);
  }

  // ---- the network ----

  bool isolated(const std::string& name) {
    for (const std::string& other : names_) {
      if (other != name && live(other) != nullptr && !partitioned(name, other)) return false;
    }
    return true;
  }

  bool partitioned(const std::string& a, const std::string& b) const {
    if (side_.empty()) return false;
    return side_.at(a) != side_.at(b);
  }

  static std::pair<std::string, std::string> pair_of(const std::string& a, const std::string& b) {
    return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
  }

  void connect(const std::string& a, const std::string& b) {
    Node* na = live(a);
    Node* nb = live(b);
    if (na == nullptr || nb == nullptr || partitioned(a, b)) return;
    auto key = pair_of(a, b);
    if (connections_.count(key) != 0) return;
    if (now_ < na->frozen_until || now_ < nb->frozen_until) {
      after(100, [this, a, b] { connect(a, b); });  // a stalled end answers no handshake: redial
      return;
    }
    connections_[key] = ++next_connection_;
    const transport::NodeIdentity ia{a, na->incarnation, address(a)};
    const transport::NodeIdentity ib{b, nb->incarnation, address(b)};
    apply(*na, na->membership->on_peer_connected(ib, now_));
    if (Node* nb2 = live(b); nb2 != nullptr)
      apply(*nb2, nb2->membership->on_peer_connected(ia, now_));
  }

  void disconnect(const std::string& a, const std::string& b) {
    auto it = connections_.find(pair_of(a, b));
    if (it == connections_.end()) return;
    connections_.erase(it);
    // Each live end sees the connection close after a delay (a dead end sees nothing).
    for (const auto& [self, other] : {std::make_pair(a, b), std::make_pair(b, a)}) {
      Node* n = live(self);
      if (n == nullptr) continue;
      const Node& o = nodes_.at(other);
      const transport::NodeIdentity io{other, o.incarnation, address(other)};
      const std::uint64_t inc = n->incarnation;
      const std::string me = self;
      // When a new connection of the pair opened meanwhile, the transport reports nothing: it
      // holds one connection per peer and a newer one replaces the old (transport.h). Telling
      // the close after the new connection left both ends believing they had none, so each
      // stopped its heartbeats to the other and one declared the other down for the cluster.
      const auto closed = [this, me, inc, io] {
        Node* m = live(me);
        if (m == nullptr || m->incarnation != inc) return;
        if (connections_.count(pair_of(me, io.name)) != 0) return;
        apply(*m, m->membership->on_peer_disconnected(io, now_));
      };
      std::function<void()> notify = [this, me, inc, closed] {
        Node* m = live(me);
        if (m == nullptr || m->incarnation != inc) return;
        if (deferred(*m, closed)) return;
        closed();
      };
      after(uniform(config_.min_delay_ms, config_.max_delay_ms), notify);
    }
    // Reconnect while both live and reachable (the transport redials).
    after(100, [this, a, b] { connect(a, b); });
  }

  void send(const Node& from, const std::string& to, Message m) {
    auto it = connections_.find(pair_of(from.name, to));
    if (it == connections_.end()) return;  // not connected: the transport drops it
    if (chance(config_.loss)) {
      trace(fmt::format("connection {} - {} breaks", from.name, to));
      disconnect(from.name, to);
      return;
    }
    const std::uint64_t conn = it->second;
    // In order on a connection: no earlier than the message sent on it before.
    std::int64_t& last = last_delivery_[std::make_pair(conn, from.name)];
    last = std::max(last, now_ + uniform(config_.min_delay_ms, config_.max_delay_ms));
    const int copies = chance(config_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      const std::string src = from.name;
      const std::uint64_t src_inc = from.incarnation;
      at(last, [this, conn, src, src_inc, to, m] { arrive(conn, src, src_inc, to, m); });
    }
  }

  void arrive(std::uint64_t conn, const std::string& src, std::uint64_t src_inc,
              const std::string& to, const Message& m) {
    auto c = connections_.find(pair_of(src, to));
    if (c == connections_.end() || c->second != conn) return;  // closed meanwhile
    Node* n = live(to);
    if (n == nullptr) return;
    if (deferred(*n, [this, conn, src, src_inc, to, m] { arrive(conn, src, src_inc, to, m); })) {
      return;  // waits in the socket buffer, in order
    }
    deliver(*n, src, src_inc, m);
  }

  void deliver(Node& n, const std::string& from, std::uint64_t from_inc, const Message& m) {
    if (const auto* mm = std::get_if<MembershipMsg>(&m)) {
      const transport::NodeIdentity id{from, from_inc, address(from)};
      apply(n, n.membership->on_message(id, mm->message, now_));
    } else if (const auto* sm = std::get_if<StoreMsg>(&m)) {
      if (!n.store->has_peer(from, from_inc)) return;  // not a peer (yet): dropped
      const bool applied = n.store->receive(from, from_inc, sm->message);
      MINOTAUR_ASSERT(applied);
      carry_store(n);
    } else {
      const auto& e = std::get<SessionMsg>(m).envelope;
      if (e.has_transfer()) {
        trace(fmt::format("{} <- transfer {} epoch {} from {}", n.id(), e.transfer().key(),
                          e.transfer().epoch(), from));
        n.core->on_transfer(from, from_inc, e.transfer(), lease(n), now_);
      } else if (e.has_transfer_ack()) {
        trace(fmt::format("{} <- ack {} epoch {} from {}", n.id(), e.transfer_ack().key(),
                          e.transfer_ack().epoch(), from));
        if (n.core->on_ack(from, e.transfer_ack(), lease(n), now_)) {
          ++result_.handoffs;
          trace(fmt::format("{}: {} handed to {} (epoch {})", n.id(), e.transfer_ack().key(), from,
                            e.transfer_ack().epoch()));
        }
      }
      carry_ownership(n);
      check_drained(n);
    }
  }

  // ---- carrying out what the state machines asked for ----

  void apply(Node& n, cluster::Step step) {
    for (auto& s : step.sends) send(n, s.to, Message{MembershipMsg{std::move(s.message)}});
    for (const cluster::MemberEvent& e : step.events) on_member_event(n, e);
  }

  void on_member_event(Node& n, const cluster::MemberEvent& e) {
    trace(fmt::format("{} sees {}#{} {}", n.id(), e.member.name, e.member.incarnation,
                      cluster::to_string(e.kind)));
    if (!n.alive()) return;  // fenced below by an earlier event of the same step
    n.stale_lease = lease(n);
    // Declared down: fenced at once; the node exits (the membership tick restarts it).
    if (n.core->on_member_event(e, sessions::view_of(*n.membership), n.stale_lease, now_) ==
        NodeCore::MemberOutcome::kFenced) {
      return;
    }
    carry_ownership(n);
    carry_store(n);
  }

  void carry_store(Node& n) {
    for (handoff::StoreCore::Outgoing& o : n.store->take_outbox()) {
      send(n, o.to, Message{StoreMsg{std::move(o.message)}});
    }
    for (const crdt::FlushDone& done : n.store->take_flushed()) {
      if (n.drain_flush && *n.drain_flush == done.id) {
        n.drain_flush.reset();
        exit_after_drain(n);
        return;
      }
      if (n.core->on_flushed(done)) {
        carry_ownership(n);
        continue;
      }
      auto it = sync_calls_.find(std::make_pair(n.id(), done.id));
      if (it == sync_calls_.end()) continue;
      const std::uint64_t call = it->second;
      sync_calls_.erase(it);
      Call& c = calls_.at(call);
      if (done.acked) {
        acknowledge(c, n);
      } else {
        finish(c, std::string(NodeCore::not_replicated().name()));
      }
    }
  }

  void carry_ownership(Node& n) {
    for (sessions::Ownership::Send& s : n.core->take_sends()) {
      if (s.envelope.has_transfer()) {
        trace(fmt::format("{} -> transfer {} epoch {} to {}", n.id(), s.envelope.transfer().key(),
                          s.envelope.transfer().epoch(), s.to));
      } else if (s.envelope.has_transfer_ack()) {
        trace(fmt::format("{} -> ack {} epoch {} to {}", n.id(), s.envelope.transfer_ack().key(),
                          s.envelope.transfer_ack().epoch(), s.to));
      }
      if (connections_.count(pair_of(n.name, s.to)) == 0) {
        n.core->on_send_failed(s, now_);
        continue;
      }
      send(n, s.to, Message{SessionMsg{std::move(s.envelope)}});
    }
    for (const std::string& key : n.core->take_wakes()) {
      auto [b, e] = waiting_.equal_range(std::make_pair(n.name, key));
      std::vector<std::uint64_t> woken;
      for (auto it = b; it != e; ++it) woken.push_back(it->second);
      waiting_.erase(b, e);
      for (std::uint64_t id : woken) {
        const std::uint64_t gen = ++calls_.at(id).generation;
        after(0, [this, id, gen] {
          Call& c = calls_.at(id);
          if (!c.done && c.generation == gen) attempt(c);
        });
      }
    }
    // What the core asked of the store (peers, confirming flushes) goes out now.
    if (n.alive()) carry_store(n);
  }

  // ---- clients ----

  void create(const std::string& game) {
    Node* n = live(names_.front());
    MINOTAUR_ASSERT(n != nullptr);
    sessions::CallState call{game, sessions::CallKind::kCreate, 0,
                             now_ + NodeCore::kCallTimeoutMs};
    const sessions::CallStep step = n->core->step(call, 0, lease(*n), now_);
    // Owned elsewhere: create it there (the API forwards a create the same way). Not known yet
    // (the cluster is still forming): try again.
    Node* o = step.kind == sessions::CallStep::Kind::kServe      ? n
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
    record_accept(*o, game, 1);
  }

  void client_step(int client) {
    if (now_ >= fault_end_ms_) return;  // the probes take over
    const std::string game = games_[static_cast<std::size_t>(uniform(0, config_.games - 1))];
    start_call(client, game, false);
    after(uniform(20, 150), [this, client] { client_step(client); });
  }

  void start_call(int client, const std::string& game, bool probe) {
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

  void attempt(Call& c) {
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
  void wait_call(Call& c, Node& n, std::int64_t until) {
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

  void serve(Call& c, Node& n) {
    SimHost::Session* s = n.host->find(c.game);
    if (s == nullptr) {
      finish(c, "not_found");
      return;
    }
    if (s->frozen)
      fail(fmt::format("{} served {} while it was frozen for a hand-off", n.id(), c.game));
    s->state += fmt::format("{},", c.action);
    trace(
        fmt::format("{} accepts action {} of {} at epoch {}", n.id(), c.action, c.game, s->epoch));
    record_accept(n, c.game, s->epoch);
    n.core->changed(c.game);
    carry_ownership(n);
    if (n.core->write_waits_for_peers(sessions::CallKind::kWrite)) {
      auto f = n.store->flush(NodeCore::kSyncTimeoutMs);
      MINOTAUR_ASSERT(static_cast<bool>(f));
      sync_calls_[std::make_pair(n.id(), f.value())] = c.id;
      carry_store(n);
      return;
    }
    acknowledge(c, n);
  }

  void acknowledge(Call& c, const Node& n) {
    c.done = true;
    ++result_.acknowledged;
    acks_[c.game].push_back(Ack{c.action, n.id(), now_, isolated(n.name)});
    trace(fmt::format("ack {} action {} by {}", c.game, c.action, n.id()));
  }

  void finish(Call& c, const std::string& why) {
    c.done = true;
    ++result_.refused;
    if (c.probe) fail(fmt::format("{} was not served after the faults stopped: {}", c.game, why));
  }

  // ---- faults ----

  // The kinds of fault, as FoundationDB's KillType names its: the generator draws one of them.
  enum class Fault : std::int64_t {
    kStop = 0,       // SIGTERM: a graceful stop, then a restart (a deploy)
    kKill = 1,       // SIGKILL, then a restart after a while (a crash)
    kPartition = 2,  // a random minority cut off from the rest, healed later
    kStall = 3,      // the process stops running for 0.2-4 s (a long pause, SIGSTOP)
  };

  bool enabled(Fault f) const {
    switch (f) {
      case Fault::kStop:
        return config_.stops;
      case Fault::kKill:
        return config_.kills;
      case Fault::kPartition:
        return config_.partitions;
      case Fault::kStall:
        return config_.freezes;
    }
    return false;
  }

  void maybe_fault() {
    if (!chance(0.004)) return;  // about one fault every 2.5 s
    std::vector<std::string> up;
    for (const std::string& name : names_) {
      if (Node* n = live(name); n != nullptr && n->phase == Phase::kRunning) up.push_back(name);
    }
    const Fault kind = static_cast<Fault>(uniform(0, config_.freezes ? 3 : 2));
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
      case Fault::kKill:
        stop_or_kill_one(kind, up);
        return;
    }
  }

  // A stall: the process stops running for a while, sometimes past the failure bound, so that the
  // cluster declares it down and starts its sessions elsewhere; when it runs again it must accept
  // nothing on what it knew before.
  void stall_one(const std::vector<std::string>& up) {
    if (up.empty()) return;
    const std::string victim =
        up[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(up.size()) - 1))];
    Node& v = node(victim);
    const std::int64_t pause = uniform(200, 4000);
    trace(fmt::format("{} stalls for {} ms", v.id(), pause));
    ++result_.faults;
    // What it acknowledged and had not yet replicated may be lost, as in a kill (async).
    killed_at_.push_back(std::make_pair(now_, v.id()));
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
  void cut_a_minority() {
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
    cut_at_.push_back(std::make_pair(
        now_, std::set<std::string>(shuffled.begin(),
                                    shuffled.begin() + static_cast<std::ptrdiff_t>(cut))));
    for (const std::string& a : names_) {
      for (const std::string& b : names_) {
        if (a < b && partitioned(a, b)) disconnect(a, b);
      }
    }
    ++result_.faults;
    maybe_remove_later(shuffled.front());
    after(uniform(500, 4000), [this] { heal(); });
  }

  // A graceful stop or a kill of a running node, while a majority stays up.
  void stop_or_kill_one(Fault kind, const std::vector<std::string>& up) {
    const int down = config_.nodes - static_cast<int>(up.size());
    const int max_down = (config_.nodes - 1) / 2;
    if (down >= max_down || up.empty()) return;
    const std::string victim =
        up[static_cast<std::size_t>(uniform(0, static_cast<std::int64_t>(up.size()) - 1))];
    Node& v = node(victim);
    ++result_.faults;
    restart_pending_.insert(victim);
    maybe_remove_later(victim);
    if (kind == Fault::kStop) {
      stop_gracefully(v);
      // The deploy restarts it once it has exited.
      wait_exit_then_restart(victim, v.incarnation);
      return;
    }
    trace(fmt::format("SIGKILL {}", v.id()));
    killed_at_.push_back(std::make_pair(now_, v.id()));
    crashed_.insert(victim);
    crash(v);
    after(uniform(300, 3000), [this, victim] {
      restart_pending_.erase(victim);
      if (live(victim) == nullptr) start_node(victim);
    });
  }

  // The operator sees a member gone and, a while later, removes its name through some live node,
  // as the admin endpoint does (no force: the guarantees hold for what the protocol decides).
  void maybe_remove_later(const std::string& victim) {
    if (!config_.removals || !chance(0.5)) return;
    after(uniform(500, 3000), [this, victim] { operator_removal(victim); });
  }

  void operator_removal(const std::string& victim) {
    std::vector<std::string> running;
    for (const std::string& name : names_) {
      if (Node* n = live(name); n != nullptr && now_ >= n->frozen_until) running.push_back(name);
    }
    if (running.empty()) return;
    Node& via = node(running[static_cast<std::size_t>(
        uniform(0, static_cast<std::int64_t>(running.size()) - 1))]);
    if (!config_.unsafe_force_removals) {
      remove_through(via, victim, false);
      return;
    }
    // The broken variant: every name this node does not hear, with force.
    for (const std::string& name : names_) {
      if (name != via.name && live(via.name) != nullptr) remove_through(via, name, true);
    }
  }

  void remove_through(Node& via, const std::string& victim, bool force) {
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

  void wait_exit_then_restart(const std::string& name, std::uint64_t inc) {
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

  void heal() {
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

  void end_faults() {
    trace("faults stop");
    heal();
    for (const std::string& name : names_) {
      if (live(name) == nullptr && restart_pending_.count(name) == 0) start_node(name);
    }
  }

  void probe_all() {
    trace("probes: every game must be served");
    for (const std::string& g : games_) start_call(-1, g, true);
  }

  // ---- checkers ----

  // One owner at a time: once another instance accepted a change of the game, an instance that
  // accepted earlier never accepts again (its time as owner is over), epochs never go down, and
  // one epoch is one owner's (the API's epoch names the node that served it).
  void record_accept(const Node& n, const std::string& game, std::uint64_t epoch) {
    auto [owner, fresh] = epoch_owner_[game].emplace(epoch, n.id());
    if (!fresh && owner->second != n.id()) {
      fail(
          fmt::format("two owners at one epoch: {} accepted a change of {} at epoch {}, at which "
                      "{} accepted changes before",
                      n.id(), game, epoch, owner->second));
    }
    auto it = accepted_.find(game);
    if (it != accepted_.end()) {
      const Accepted& last = it->second;
      if (epoch < last.epoch) {
        fail(
            fmt::format("two owners: {} accepted a change of {} at epoch {} after {} accepted one "
                        "at epoch {} (t={})",
                        n.id(), game, epoch, last.node_id, last.epoch, last.at_ms));
      }
      // An instance is a node incarnation holding the game at one epoch.
      const std::string instance = fmt::format("{}@{}", n.id(), epoch);
      const std::string previous = fmt::format("{}@{}", last.node_id, last.epoch);
      if (superseded_[game].count(instance) != 0) {
        fail(
            fmt::format("two owners: {} accepted a change of {} at epoch {} after {} had taken "
                        "it over",
                        n.id(), game, epoch, previous));
      }
      if (previous != instance) superseded_[game].insert(previous);
    }
    accepted_[game] = Accepted{n.id(), epoch, now_};
  }

  // Async replication may lose what the acknowledging node had not yet replicated when it was
  // killed or cut off.
  bool excused(const Ack& a) const {
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

  static std::set<std::string> actions_of(const std::string& state) {
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

  void check_quiescence() {
    trace("quiescence: checking");
    for (const std::string& g : games_) {
      std::vector<Node*> hosts;
      for (const std::string& name : names_) {
        Node* n = live(name);
        if (n != nullptr && n->host->hosts(g)) hosts.push_back(n);
      }
      if (hosts.size() != 1) {
        fail(fmt::format("{} is hosted by {} nodes at quiescence", g, hosts.size()));
        if (hosts.empty()) continue;
      }
      Node& h = *hosts.front();
      std::vector<std::string> serving;
      for (const auto& m : h.membership->serving_members()) serving.push_back(m.name);
      if (sessions::owner_of(g, serving) != h.name) {
        fail(fmt::format("{} is hosted by {}, not by its placement owner {}", g, h.id(),
                         sessions::owner_of(g, serving)));
      }
      const std::set<std::string> held = actions_of(h.host->find(g)->state);
      for (const Ack& a : acks_[g]) {
        if (held.count(std::to_string(a.action)) != 0) continue;
        if (excused(a)) {
          ++result_.excused_losses;
          continue;
        }
        fail(fmt::format("acknowledged action {} of {} (by {} at t={}) is lost", a.action, g,
                         a.node_id, a.at_ms));
      }
    }
    // Every replica of the store holds the same entries.
    std::optional<std::map<std::string, std::string>> first;
    std::string first_id;
    for (const std::string& name : names_) {
      Node* n = live(name);
      if (n == nullptr) continue;
      std::map<std::string, std::string> m;
      n->store->replica().map().for_each([&](const std::string& k, const auto& e) { m[k] = e.value; });
      if (!first) {
        first = std::move(m);
        first_id = n->id();
      } else if (m != *first) {
        fail(
            fmt::format("the store replicas of {} and {} differ at quiescence", first_id, n->id()));
      }
      result_.pickups += n->core->counters().picked_up;
    }
  }

  const SimConfig config_;
  std::mt19937_64 rng_;
  std::int64_t now_ = 0;
  std::uint64_t next_seq_ = 0;
  std::map<std::pair<std::int64_t, std::uint64_t>, std::function<void()>> queue_;
  std::vector<std::string> names_;
  std::vector<std::string> games_;
  std::map<std::string, Node> nodes_;
  std::uint64_t incarnations_ = 0;
  std::map<std::pair<std::string, std::string>, std::uint64_t> connections_;
  std::uint64_t next_connection_ = 0;
  std::map<std::string, int> side_;  // partition sides; empty: whole
  std::set<std::string> restart_pending_;
  std::map<std::uint64_t, Call> calls_;
  std::uint64_t next_call_ = 0;
  std::uint64_t next_action_ = 0;
  std::multimap<std::pair<std::string, std::string>, std::uint64_t> waiting_;
  // By node incarnation: a restarted node's replica numbers its flushes from 1 again.
  std::map<std::pair<std::string, crdt::FlushId>, std::uint64_t> sync_calls_;
  std::map<std::string, std::map<std::uint64_t, std::string>> epoch_owner_;  // game -> epoch -> id
  std::map<std::string, Accepted> accepted_;
  std::map<std::string, std::set<std::string>> superseded_;  // game -> instances whose turn ended
  std::map<std::string, std::vector<Ack>> acks_;
  std::vector<std::pair<std::int64_t, std::string>> killed_at_;
  std::vector<std::pair<std::int64_t, std::set<std::string>>> cut_at_;
  std::set<std::string> crashed_;  // killed, or declared down: not yet restarted
  std::set<std::string> frozen_;   // stalled now
  // Per connection and sender: when its last message arrives (connections are in order).
  std::map<std::pair<std::uint64_t, std::string>, std::int64_t> last_delivery_;
  std::int64_t repaired_at_ = 0;  // when the last kill or cut was repaired
  std::int64_t fault_end_ms_ = 0;
  std::vector<std::string> trace_;
  std::uint64_t trace_hash_ = 0;
  SimResult result_;
};

}  // namespace

std::string SimResult::summary() const {
  return fmt::format(
      "{}: {} actions acknowledged, {} calls not served, {} faults, {} hand-offs, {} pick-ups, "
      "{} removals, {} excused async losses, {} events",
      ok ? "ok" : "FAILED", acknowledged, refused, faults, handoffs, pickups, removals,
      excused_losses, events);
}

std::string SimResult::report(std::uint64_t seed) const {
  std::string out = fmt::format("sim seed {}: {}\n", seed, summary());
  for (const std::string& f : failures) out += "  " + f + "\n";
  if (!ok) {
    out += fmt::format("trace (last {} lines; rerun with `minotaur sim --seed {}`):\n",
                       trace_tail.size(), seed);
    for (const std::string& l : trace_tail) out += "  " + l + "\n";
  }
  return out;
}

SimResult run(const SimConfig& config) {
  MINOTAUR_ASSERT(config.nodes >= 1 && config.games >= 1 && config.clients >= 0);
  World world(config);
  return world.run();
}

}  // namespace minotaur::sim
