// World: one simulated run (world.h says what it models and checks). Not for use outside sim/.
//
// One class, its parts in one file each:
//   world.cc      the run: its phases, virtual time and the event queue, the trace
//   processes.cc  node processes: start, periodic ticks, stalls, SIGTERM and the drain, exits
//   cores.cc      a node's three cores driven: messages in, what they ask for out
//   network.cc    connections, delays, loss, duplication, partitions
//   clients.cc    the clients' calls, following forwards and waits as the HTTP API does
//   faults.cc     the faults, one function each, and the operator's removals
// The checkers (checkers.h) are a class of their own: they see what happens, never the
// simulator's inner state.
//
// Every random choice comes from rng_, in the order the events run: moving a draw, or adding
// one, changes every run after it (the same seed then gives another run).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "sim/checkers.h"
#include "sim/disk.h"
#include "sim/node.h"
#include "sim/world.h"

namespace minotaur::sim {

// What travels between nodes: each core's messages.
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

// The kinds of fault, as FoundationDB's KillType names its: the generator draws one of them.
enum class Fault : std::int64_t {
  kStop = 0,       // SIGTERM: a graceful stop, then a restart (a deploy)
  kKill = 1,       // SIGKILL, then a restart after a while (a crash)
  kPartition = 2,  // a random minority cut off from the rest, healed later
  kStall = 3,      // the process stops running for 0.2-4 s (a long pause, SIGSTOP)
  kPowerCut = 4,   // with disks: every node killed at once, restarted one by one
};

class World {
 public:
  explicit World(const SimConfig& c);
  SimResult run();

 private:
  // ---- the run (world.cc) ----
  void at(std::int64_t when, std::function<void()> f) {
    queue_.emplace(std::make_pair(std::max(when, now_), next_seq_++), std::move(f));
  }
  void after(std::int64_t delay, std::function<void()> f) { at(now_ + delay, std::move(f)); }
  void run_until(std::int64_t end);
  std::int64_t uniform(std::int64_t lo, std::int64_t hi) {  // inclusive; portable
    return lo + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool chance(double p) {
    return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) < p;
  }
  void trace(std::string line);
  void log_line(std::string line);  // a node's log line: in the trace, not in its hash
  void keep(std::string line);      // the last lines of the trace
  void fail(std::string what);
  void check_quiescence();
  Node& node(const std::string& name) { return nodes_.at(name); }
  Node* live(const std::string& name) {
    auto it = nodes_.find(name);
    return it == nodes_.end() || !it->second.alive() ? nullptr : &it->second;
  }

  // ---- processes (processes.cc) ----
  void start_node(const std::string& name);
  void schedule_ticks(const std::string& name, std::uint64_t inc);
  void schedule_tick(const std::string& name, std::uint64_t inc, std::int64_t period,
                     std::int64_t delay, std::function<bool(Node&)> body);
  bool deferred(const Node& n, const std::function<void()>& f);
  sessions::Lease lease(const Node& n) const;
  void crash(Node& n);
  void stop_gracefully(Node& n);
  void check_drained(Node& n);
  void exit_after_drain(Node& n);
  void write_before_exit(Node& n);
  void commit(Node& n);  // the store's next batch to the node's disk, if any
  void written(const std::string& name, std::uint64_t inc,
               const std::shared_ptr<const storage::Batch>& batch);

  // ---- the cores (cores.cc) ----
  void deliver(Node& n, const std::string& from, std::uint64_t from_inc, const Message& m);
  void apply(Node& n, cluster::Step step);
  void on_member_event(Node& n, const cluster::MemberEvent& e);
  void carry_store(Node& n);
  void carry_ownership(Node& n);

  // ---- the network (network.cc) ----
  bool isolated(const std::string& name);
  bool partitioned(const std::string& a, const std::string& b) const;
  static std::pair<std::string, std::string> pair_of(const std::string& a, const std::string& b) {
    return a < b ? std::make_pair(a, b) : std::make_pair(b, a);
  }
  void connect(const std::string& a, const std::string& b);
  void disconnect(const std::string& a, const std::string& b);
  void send(const Node& from, const std::string& to, Message m);
  void arrive(std::uint64_t conn, const std::string& src, std::uint64_t src_inc,
              const std::string& to, const Message& m);

  // ---- clients (clients.cc) ----
  void create(const std::string& game);
  void client_step(int client);
  void start_call(int client, const std::string& game, bool probe);
  void attempt(Call& c);
  void wait_call(Call& c, Node& n, std::int64_t until);
  void serve(Call& c, Node& n);
  void acknowledge(Call& c, const Node& n);
  void finish(Call& c, const std::string& why);
  void probe_all();

  // ---- faults (faults.cc) ----
  bool enabled(Fault f) const;
  void maybe_fault();
  void stall_one(const std::vector<std::string>& up);
  void cut_a_minority();
  void stop_one(const std::vector<std::string>& up);
  void kill_one(const std::vector<std::string>& up);
  void power_cut();
  std::optional<std::string> take_down(const std::vector<std::string>& up);
  void wait_exit_then_restart(const std::string& name, std::uint64_t inc);
  void heal();
  void end_faults();
  void maybe_remove_later(const std::string& victim);
  void operator_removal(const std::string& victim);
  void remove_through(Node& via, const std::string& victim, bool force);

  // The run.
  const SimConfig config_;
  std::mt19937_64 rng_;
  std::int64_t now_ = 0;
  std::uint64_t next_seq_ = 0;
  std::map<std::pair<std::int64_t, std::uint64_t>, std::function<void()>> queue_;
  std::vector<std::string> trace_;
  std::uint64_t trace_hash_ = 0;
  SimResult result_;
  Checkers checkers_;
  // Processes.
  std::vector<std::string> names_;
  std::map<std::string, Node> nodes_;
  std::uint64_t incarnations_ = 0;
  std::set<std::string> restart_pending_;
  std::set<std::string> crashed_;         // killed, or declared down: not yet restarted
  std::map<std::string, SimDisk> disks_;  // by node name, with config_.disks
  // The network.
  std::map<std::pair<std::string, std::string>, std::uint64_t> connections_;
  std::uint64_t next_connection_ = 0;
  std::map<std::string, int> side_;  // partition sides; empty: whole
  // Per connection and sender: when its last message arrives (connections are in order).
  std::map<std::pair<std::uint64_t, std::string>, std::int64_t> last_delivery_;
  // Clients.
  std::vector<std::string> games_;
  std::map<std::uint64_t, Call> calls_;
  std::uint64_t next_call_ = 0;
  std::uint64_t next_action_ = 0;
  std::multimap<std::pair<std::string, std::string>, std::uint64_t> waiting_;
  // By node incarnation: a restarted node's replica numbers its flushes from 1 again.
  std::map<std::pair<std::string, crdt::FlushId>, std::uint64_t> sync_calls_;
  // Faults.
  std::set<std::string> frozen_;  // stalled now
  std::int64_t repaired_at_ = 0;  // when the last kill or cut was repaired
  std::int64_t fault_end_ms_ = 0;
};

}  // namespace minotaur::sim
