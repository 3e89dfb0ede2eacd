// NodeCore: one node's session logic without I/O — the ownership core (ownership.h), the wiring of
// membership changes into it and into the store's peers, the rule each call follows on this node
// (serve, forward, wait or answer; the hop limit and the deadline), and the flushes that confirm
// picked-up sessions. Every input carries the time and, where the decision depends on it, the
// quorum lease as it is at that moment; what it wants done comes out as values. The Asio router
// (router.h) and the deterministic simulator (sim/) are both thin carriers of this class, so the
// simulator checks the code a node runs, not a copy of it.
//
// The lease is an argument of every input that may accept a change, start a session or hand one
// on, rather than state set beforehand: a node whose loop stalled past the failure bound must
// decide on the lease as it is now, never on the one it read before the stall.
//
// Thread: one owner calls every method.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/member.h"
#include "crdt/sync_replica.h"
#include "handoff/store_core.h"
#include "sessions/errors.h"
#include "sessions/ownership.h"

namespace minotaur::cluster {
class Membership;
}

namespace minotaur::sessions {

// The membership's leases at the moment of an input (cluster/membership.h).
struct Lease {
  bool quorum = true;    // has_quorum: heard from a majority of the voters within the lease
  bool in_touch = true;  // all_in_touch: every live member confirmed this node within the lease
};

// What the core needs of the member table when it changed.
struct MembershipView {
  std::vector<std::string> serving;  // names that take sessions; empty until this node joined
  std::vector<MemberState> members;  // every entry, tombstones included
};
// The one reading of a Membership into a view: until it has joined, a node knows no owner (not
// even itself), so calls wait rather than go to a placement computed on a partial table.
MembershipView view_of(const cluster::Membership& membership);

// Why a node holds changes now (NodeCore::changes_held), in the order it looks at them.
enum class Hold {
  kFenced,              // the cluster declared this incarnation down; the node exits
  kDraining,            // it stops, handing its sessions off
  kNoQuorum,            // cut off from the majority of the voters
  kStorageUnavailable,  // its data dir failed a batch
  kNoReplica,           // sync replication without a peer
  kCatchingUp,          // its store has not heard from every peer since the last change
};
// The word the API gives it: "fenced", "draining", "no_quorum", ...
std::string_view to_string(Hold hold);

// One call, as it stands on this node.
struct CallState {
  std::string key;  // SessionKey::str()
  CallKind kind = CallKind::kRead;
  std::uint32_t hops = 0;        // how often it was forwarded before it reached this node
  std::int64_t deadline_ms = 0;  // when it started + NodeCore::kCallTimeoutMs
};

// What to do with a call now.
struct CallStep {
  enum class Kind {
    kServe,    // execute it on the host now (then changed() for each accepted change)
    kForward,  // send it to `owner` with hops + 1; forward_failed() if that is not possible
    kWait,     // until `until_ms` at the latest; a wake for its key comes earlier
    kAnswer,   // with `error`
  };
  Kind kind = Kind::kServe;
  std::string owner;
  std::int64_t until_ms = 0;
  std::optional<SessionError> error;  // kAnswer
};

class NodeCore {
 public:
  static constexpr std::int64_t kTickMs = 20;  // how often the driver calls tick()
  static constexpr std::uint32_t kMaxForwardHops = 4;
  static constexpr std::int64_t kCallTimeoutMs = 10'000;    // a whole call, waits included
  static constexpr std::int64_t kForwardTimeoutMs = 3'000;  // one forwarded call's reply
  static constexpr std::int64_t kForwardRetryMs = 50;       // after a forward that failed
  static constexpr std::int64_t kSyncTimeoutMs = 2'000;     // a flush's wait for the peers
  static constexpr std::size_t kMaxWaitingCalls = 1024;     // per session, during a hand-off
  // A draining node: every session handed off within kDrainBoundMs, then the calls other nodes
  // forwarded here answered within kRemoteCallsBoundMs, then every stash at the peers within
  // kStoreFlushBoundMs; what is not done by then is left (the store still holds it).
  static constexpr std::int64_t kDrainBoundMs = 20'000;
  static constexpr std::int64_t kRemoteCallsBoundMs = 1'000;
  static constexpr std::int64_t kStoreFlushBoundMs = 2'000;
  static constexpr std::int64_t kDiskWriteBoundMs = 5'000;  // then, with a data dir, the disk

  // `store` may be null (no replication: nothing survives a crash).
  NodeCore(OwnershipOptions options, SessionStates& states, handoff::StoreCore* store);

  // ---- membership ----
  enum class MemberOutcome {
    kGoOn,
    // This incarnation was declared down: the cluster started its sessions elsewhere, so its
    // copies are stale. The core is fenced (serves, moves and stashes nothing); the node must
    // exit so that a supervisor restarts it as a new incarnation.
    kFenced,
  };
  // One member event and the table after it: the store's peers follow the members (a member
  // that is down is retired for good), the serving members give the owners.
  MemberOutcome on_member_event(const cluster::MemberEvent& event, const MembershipView& view,
                                Lease lease, std::int64_t now_ms);

  // ---- calls ----
  // What to do with `call` now. `waiting_here`: how many calls for its key wait on this node.
  CallStep step(const CallState& call, std::size_t waiting_here, Lease lease, std::int64_t now_ms);
  // The forward that step() asked for could not be sent, or got no reply in time: look again a
  // moment later (membership may change meanwhile), or answer when the deadline passed.
  CallStep forward_failed(const CallState& call, const std::string& owner, std::int64_t now_ms);
  // Whether a served call is answered only once every peer holds its change (a store flush of
  // kSyncTimeoutMs; --replication sync), and the answer when that flush fails.
  bool write_waits_for_peers(CallKind kind) const;
  static SessionError not_replicated();
  // A change this node cannot write to its data dir now (a full or failing disk).
  static SessionError storage_unavailable();

  // ---- the sessions' changes ----
  void changed(const std::string& key);
  void created(const std::string& key);
  void drop(const std::string& key);
  std::size_t reset();

  // ---- messages and time ----
  void on_transfer(const std::string& from, std::uint64_t from_incarnation,
                   const v1::Transfer& transfer, Lease lease, std::int64_t now_ms);
  // True when this acknowledgement completed a hand-off (the session left this node).
  bool on_ack(const std::string& from, const v1::TransferAck& ack, Lease lease,
              std::int64_t now_ms);
  void on_send_failed(const Ownership::Send& send, std::int64_t now_ms);
  void tick(Lease lease, std::int64_t now_ms);
  // A flush of the store completed. True when it was one of the core's own (the confirmation of
  // picked-up sessions); false: the driver's.
  bool on_flushed(const crdt::FlushDone& done);

  // ---- stopping ----
  // This node stops serving (the membership already excludes it): hand everything off.
  void drain(std::int64_t now_ms);
  // Every session handed off, or the drain bound passed.
  bool drain_over(std::int64_t now_ms) const;
  // See MemberOutcome::kFenced; also what a driver calls when it learns so another way.
  void fence();

  // ---- outputs ----
  std::vector<Ownership::Send> take_sends() { return core_.take_sends(); }
  std::vector<std::string> take_wakes() { return core_.take_wakes(); }

  // ---- reads ----
  // Why this node holds changes now (the first Hold that applies), or nothing when it accepts
  // them; what /readyz and the cluster view report, so that a load balancer and an operator see
  // it before a client does. While catching up it takes no session over.
  std::optional<Hold> changes_held(Lease lease) const;
  // Why /readyz should send no client here: changes_held, but for two reasons that would take
  // nodes out of a load balancer for nothing. "no_replica": the first node of a sync cluster has
  // no peer until the next one joins, and a deploy starts the next once the first is ready.
  // "catching_up" after the first catch-up since start: every membership change makes every
  // node catch up again, while it serves its sessions as before.
  std::optional<Hold> not_ready(Lease lease) const;
  std::string owner(const std::string& key) const { return core_.owner(key); }
  const std::vector<std::string>& serving() const { return core_.serving(); }
  const OwnershipCounters& counters() const { return core_.counters(); }
  bool fenced() const { return fenced_; }

 private:
  void apply(Lease lease);
  void start_confirms();  // the keys the ownership core wants confirmed: a flush each batch

  SessionStates& states_;
  handoff::StoreCore* store_;
  Ownership core_;
  bool sync_;
  std::map<crdt::FlushId, std::vector<std::string>> confirming_;  // flush -> keys it confirms
  std::optional<std::int64_t> drain_started_ms_;
  bool fenced_ = false;
  bool caught_up_once_ = false;  // the store caught up with every peer since this node started
};

}  // namespace minotaur::sessions
