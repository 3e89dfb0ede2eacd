// Node: one simulated node process, as the world drives it. It runs the protocol code of
// `minotaur node` — cluster::Membership, handoff::StoreCore and sessions::NodeCore — over a
// SimHost; what a process adds around them (its phase, a stall, the drain's flush) is here.
// A restart replaces the cores and takes the next incarnation; nothing else survives it but
// its data dir (sim/disk.h), when the run has disks.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "cluster/membership.h"
#include "handoff/store_core.h"
#include "sessions/node_core.h"
#include "sim/sim_host.h"

namespace minotaur::sim {

// kDraining: SIGTERM, handing sessions off; kFlushing: every session gone, flushing the store
// before the exit; kWriting: with a data dir, writing the store to it before the exit; kDead:
// killed, exited, or never started.
enum class Phase { kRunning, kDraining, kFlushing, kWriting, kDead };

struct Node {
  std::string name;
  std::uint64_t incarnation = 0;
  Phase phase = Phase::kDead;
  // The protocol code a node runs, driven here as the node's Asio shells drive it.
  std::unique_ptr<cluster::Membership> membership;
  std::unique_ptr<handoff::StoreCore> store;
  std::unique_ptr<SimHost> host;
  std::unique_ptr<sessions::NodeCore> core;
  // The lease as read at the last tick or member event: what the broken variant
  // unsafe_stale_quorum decides calls on.
  sessions::Lease stale_lease;
  std::int64_t drain_started_ms = 0;
  std::optional<crdt::FlushId> drain_flush;
  std::int64_t writing_since_ms = 0;  // kWriting: since when
  // A stalled process (a long pause, SIGSTOP): until then nothing of it runs; what arrives for
  // it waits, in order, as in its socket buffers.
  std::int64_t frozen_until = 0;
  bool alive() const { return phase != Phase::kDead; }
  std::string id() const { return fmt::format("{}#{}", name, incarnation); }
};

// The cluster address a node's identity carries.
inline std::string address_of(const std::string& name) {
  return name + ":7000";
}

}  // namespace minotaur::sim
