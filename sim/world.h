// World: a deterministic simulation of a Minotaur cluster, in one thread, in virtual time.
//
// Each simulated node runs the same protocol code as `minotaur node`: cluster::Membership (who
// is in the cluster, the quorum lease), handoff::StoreCore (its replica of the store and the
// peers it replicates with) and sessions::NodeCore (ownership wired to both, the rule every call
// follows on a node, its time-outs and tick periods). Only what surrounds them is simulated: the
// clock, the network, the processes, the clients, and the session host, whose game state is
// replaced by an opaque list of action ids (the game rules are tested elsewhere; here the state
// only has to show which acknowledged actions it holds).
//
// The network: one connection per pair of live nodes that are not partitioned from each other,
// as the transport keeps one TCP connection per peer: in order on each connection (messages of
// different connections reorder), each message delayed uniform in [min_delay_ms, max_delay_ms]
// after the one before it at the earliest. A connection breaks at a message with probability
// `loss` (that message and everything in flight on it are lost; the transport redials), a
// message is delivered twice with probability `duplicate` (the copy right after it), and
// everything in flight is lost when a connection closes. Faults, chosen by the seeded generator
// during the fault phase: a graceful stop (SIGTERM: leave, hand everything off, flush the store,
// exit) followed by a restart, a kill (SIGKILL) followed by a restart, partitions that heal
// later, and stalls (a node stops running for 0.2-4 s, a long pause or SIGSTOP: past the failure
// bound the cluster declares it down). Kills, cuts and stalls come one at a time (see
// overlapping_faults). A node the cluster declared down exits and is restarted, as a supervisor
// would. With `removals`, an operator asks a random live node, a while after a fault, to remove
// the victim's name (cluster::Membership::remove, as the admin endpoint does, without force):
// refused where that node still hears the victim, holds no quorum (the minority side of a cut)
// or has not yet seen the last change spread; a removed node that is alive is told it is down,
// exits and rejoins as a new incarnation that must be admitted as a voter again. With `disks`,
// each node has a data dir (sim/disk.h) that outlives its processes: the store core's batches
// reach it every commit interval (a sync write's at once) after a write of 1-8 ms, a killed node
// loses the batch it was writing, a graceful stop writes everything before the exit, and a
// restart loads the disk first; a power cut of the whole cluster (every node killed at once,
// restarted one by one) is then among the faults. Clients write
// to games the whole time, through random nodes, following forwards and waits as the HTTP API
// does, and record what was acknowledged.
//
// Checkers (separate from the code they check): after every accepted change, one owner at a
// time (the epochs of accepted changes of a game never go down, and no two incarnations accept
// changes at the same epoch); after the faults stop, every game is served again within a bound;
// at quiescence, no acknowledged action is missing (under async replication an action may be
// lost only when the node that acknowledged it was killed or cut off within the replication
// window after the acknowledgement), each game is hosted by exactly one node, its placement
// owner, and every replica of the store holds the same entries.
//
// The same seed gives the same run: one RNG, one event queue ordered by (time, sequence).
//
// The code: this header is the simulator's interface (run()); world_impl.h is the simulated run,
// one role per file (the run, node processes, their cores, the network, clients, faults), node.h
// a simulated node, sim_host.h its session host, checkers.h the checkers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace minotaur::sim {

struct SimConfig {
  std::uint64_t seed = 1;
  int nodes = 3;
  int games = 6;
  int clients = 4;
  std::int64_t steps = 1500;  // the fault phase, in steps of 10 ms of virtual time
  bool sync = false;          // --replication sync
  bool faults = true;
  // Which faults: graceful stops, kills, partitions.
  bool stops = true;
  bool kills = true;
  bool partitions = true;
  // The guarantees hold for one failure at a time: a kill or a cut starts only once the last
  // one is repaired (its nodes restarted, the cut healed) and the cluster had time to settle
  // (kRepairSettleMs). Graceful stops come at any time. true: kills and cuts overlap, which
  // can take the only other copy of a change away with its writer — beyond what docs/SPEC.md
  // promises, for exploring.
  bool overlapping_faults = false;
  bool freezes = true;    // stalls: a node stops running for 0.2-4 s, then goes on
  bool removals = false;  // operator removals of members that are down (see above)
  // Data dirs (see above): each node keeps its store on a simulated disk, and a power cut of
  // the whole cluster is among the faults.
  bool disks = false;
  double loss = 0.0005;  // per message: its connection breaks
  double duplicate = 0.01;
  std::int64_t min_delay_ms = 1;
  std::int64_t max_delay_ms = 15;
  // Deliberately broken variants, to show the checkers catch them.
  bool unsafe_skip_ack = false;      // hand-off drops the session before the acknowledgement
  bool unsafe_skip_confirm = false;  // a pick-up takes changes before a peer holds its epoch
  // With disks: a sync write is acknowledged once the peers hold it, before it is on the disk.
  bool unsafe_skip_disk_wait = false;
  bool unsafe_no_quorum = false;  // no quorum lease: a cut-off node keeps accepting changes
  // The lease read at ticks only, not at each decision: a node that stalled past the failure
  // bound serves a call with what it knew before the stall. The rule it breaks: the quorum
  // lease is read at every call, never from a value cached before a stall.
  bool unsafe_stale_quorum = false;
  // With removals: the operator removes every name the chosen node does not hear, with force
  // (no quorum needed): on the minority side of a cut that hands it a majority of its own.
  bool unsafe_force_removals = false;
  std::size_t trace_tail = 60;  // lines of trace printed with a failure
  // The nodes' own log lines (debug level and up) in the trace, each after the event that
  // wrote it; left out of the trace's hash, so a run replays the same with or without them.
  bool logs = false;
};

struct SimResult {
  bool ok = true;
  std::vector<std::string> failures;  // what the checkers found
  std::uint64_t trace_hash = 0;       // same seed, same hash
  std::vector<std::string> trace_tail;
  std::uint64_t acknowledged = 0;
  std::uint64_t refused = 0;
  std::uint64_t excused_losses = 0;  // async: lost within the window after a kill or cut
  std::uint64_t faults = 0;
  std::uint64_t handoffs = 0;
  std::uint64_t pickups = 0;
  std::uint64_t removals = 0;  // names an operator removed
  std::uint64_t events = 0;
  std::string summary() const;                   // one line
  std::string report(std::uint64_t seed) const;  // failures, seed, trace tail
};

SimResult run(const SimConfig& config);

}  // namespace minotaur::sim
