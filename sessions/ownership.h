// Ownership: who serves which session, and how a session moves — the heart of the node core
// (node_core.h), which owns it, sets its leases before every input and wires it to the membership
// and the store. No sockets, no timers, no clock: every input carries now_ms, and what it wants
// done comes out as values (messages to send, keys whose waiting calls should look again). The
// Asio router (router.h) and the deterministic simulator (sim/) drive it through the node core.
//
// Placement: the owner of a key is owner_of(key, serving members) (placement.h), a pure function
// every node computes alike. A call is served where its key's owner is; decide() says, for one
// call at one moment, whether to serve it here, forward it to the owner, wait (a hand-off is in
// flight, or the state is on its way), or refuse it.
//
// Hand-off (docs/DESIGN.md, "How a hand-off should go"): when the owner of a hosted key is another
// node, the session is frozen (calls wait, its round timer is paused) and a Transfer carrying its
// state and epoch goes to the new owner, which starts it with epoch + 1, stashes it and
// acknowledges. Only on that acknowledgement is the session dropped here; then the waiting calls
// look again and go to the new owner. Without an acknowledgement within ack_timeout_ms the transfer
// is sent again to whoever owns the key by then (the new owner may have gone); if placement gives
// the key back to this node, it thaws and is served here.
//
// Crash recovery: every accepted change is stashed in the replicated store with its epoch
// (handoff/stash.h). When a member goes down, each node starts the sessions it now owns, that it
// does not host, from the store, with the stored epoch + 1 — and so does a call that reaches an
// owner without the state after the arrival window. It takes changes once a peer acknowledged
// the stash of that epoch (take_confirms / on_confirmed), so that an epoch names one owner: a
// node cut off right after a pick-up cannot accept changes at the epoch the majority, which
// never saw that stash, will pick again.
//
// Fencing (one owner, docs/SPEC.md guarantee 3): before a change is accepted, the epoch in this
// node's replica of the store is compared with the hosted one; a higher stored epoch means another
// node took the session over (this node was cut off, or slow to learn of a change) — the stale copy
// is dropped and the session restarts from the store. The replica only knows what reached it: a
// node cut off from every other node cannot see the new epoch. That gap is closed by the quorum
// lease (set_quorum): a node that has not heard from a majority of the cluster recently accepts no
// change at all (cluster/membership.h, has_quorum).
//
// Thread: one owner calls every method.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "handoff/stash.h"
#include "sessions/errors.h"
#include "sessions/sessions.pb.h"

namespace minotaur::sessions {

// What the core needs of the sessions its node hosts; it never looks inside a state.
// SessionHost implements it; the simulator has its own host of opaque states.
class SessionStates {
 public:
  virtual ~SessionStates() = default;
  virtual bool hosts(const std::string& key) const = 0;
  virtual std::vector<std::string> keys() const = 0;
  virtual std::uint64_t epoch(const std::string& key) const = 0;  // 0 when not hosted
  virtual std::pair<std::string, bool> export_state(const std::string& key) const = 0;
  virtual Result<Ok, std::string> install(const std::string& key, std::string_view state,
                                          bool is_game, std::uint64_t epoch) = 0;
  virtual void remove(const std::string& key) = 0;
  virtual void set_frozen(const std::string& key, bool frozen) = 0;
  virtual bool frozen(const std::string& key) const = 0;  // false when not hosted
};

enum class CallKind { kRead, kWrite, kCreate };

// One entry of the membership table, as the core needs it: is this incarnation alive.
struct MemberState {
  std::string name;
  std::uint64_t incarnation = 0;
  bool alive = false;  // up or leaving (false: down)
};

struct Decision {
  enum class Kind { kServe, kForward, kWait, kRefuse };
  Kind kind = Kind::kServe;
  std::string owner;          // kForward: the node to send it to
  std::int64_t until_ms = 0;  // kWait: look again then at the latest (a wake comes earlier)
  // kRefuse; with kWait, what to answer if the caller's deadline passes while it waits
  std::optional<SessionError> error;
};

struct OwnershipOptions {
  std::string self;
  std::string self_id;  // this incarnation, "name#incarnation" (the holder named in stashes)
  bool sync = false;    // --replication sync: writes need a peer
  std::int64_t ack_timeout_ms = 2'000;   // for one transfer's acknowledgement
  std::int64_t arrival_wait_ms = 3'000;  // after a membership change, for a state in transit
  std::int64_t resend_ms = 50;           // a transfer that could not be sent at all
  // Transfers in flight from this node: the transport queues at most 4096 frames per peer and
  // cuts a connection whose queue overflows, which 10,000 transfers at once did.
  std::size_t max_moves_in_flight = 512;
  std::int64_t retry_ms = 100;  // a transfer the receiver refused for now
  // With data dirs: a session handed over here also takes changes only once every peer holds
  // its new epoch (on the peer's disk), as a picked-up one does. Otherwise a power cut of every
  // node right after the hand-off leaves no disk with the new epoch, and the cold start picks
  // the session up at that epoch again: two owners of one epoch, the first one's changes lost.
  bool confirm_handoffs = false;
  // BROKEN ON PURPOSE, for the simulator's self-test only: drop a session as soon as its
  // transfer is sent, without waiting for the acknowledgement.
  bool unsafe_skip_ack = false;
  // BROKEN ON PURPOSE, likewise: a picked-up session takes changes before a peer holds its
  // new epoch.
  bool unsafe_skip_confirm = false;
};

struct OwnershipCounters {
  std::uint64_t handoffs_sent = 0;      // sessions handed to a new owner and acknowledged
  std::uint64_t handoffs_received = 0;  // sessions started here from a hand-off
  std::uint64_t transfers_resent = 0;   // no acknowledgement in time
  std::uint64_t waits_for_arrival = 0;  // calls that waited for a session in transit
  std::uint64_t picked_up = 0;          // sessions started here from the replicated store
  std::uint64_t pickups_confirmed = 0;  // ... (and hand-offs, with confirm_handoffs) whose new
                                        // epoch the peers then held
  std::uint64_t waits_for_confirm = 0;  // changes held until then
  std::uint64_t superseded = 0;         // stale copies dropped: the store had a newer epoch
  std::uint64_t waits_for_quorum = 0;   // changes held while cut off from the majority
  std::uint64_t games_dropped = 0;      // concluded games removed after their retention
  std::uint64_t lobbies_dropped = 0;    // lobbies removed, unchanged for their retention
};

class Ownership {
 public:
  struct Send {
    std::string to;
    v1::Envelope envelope;  // a Transfer or a TransferAck
  };

  // `store` may be null (no replication: nothing survives a crash).
  Ownership(OwnershipOptions options, SessionStates& states, handoff::StashStore* store);

  // ---- inputs ----
  // Membership changed: the serving members' names (this node included while it serves), the
  // whole member table, and the member that went down, if any (its sessions are picked up from
  // the store).
  void on_membership_changed(std::vector<std::string> serving, std::vector<MemberState> members,
                             const std::string& down, std::int64_t now_ms);
  // False while this node has not heard from a majority of the cluster within the lease.
  void set_quorum(bool has_quorum);
  // A session that ended for good (a concluded game or an idle lobby past its retention): removed
  // from this host and from the store. Nothing while it moves (the new owner drops it in turn).
  void drop(const std::string& key);
  // False while some live member has not confirmed this node within the lease (cut off, or just
  // joined): sessions are then not started from the store, whose newest state may sit there.
  void set_in_touch(bool all_in_touch);
  // One call for `key`, now. kServe: execute it on the host now (then call changed() for every
  // accepted change).
  Decision decide(const std::string& key, CallKind kind, std::int64_t now_ms);
  // An accepted change of a hosted session (or one just created): stash it.
  void changed(const std::string& key);
  // A session created here a moment ago (after changed()): like a pick-up, it takes changes
  // once a peer holds its first stash. Else a node cut off right after the create could accept
  // changes at epoch 1 that the majority, which never saw the session, might create again at
  // epoch 1 (a client re-creating the game).
  void created(const std::string& key);
  // A transfer from incarnation `from_incarnation` of node `from` (0: unknown). One from an
  // incarnation this node's membership holds down is ignored: that node was fenced, its copy is
  // stale (it may have sent it a moment before it learned so).
  void on_transfer(const std::string& from, std::uint64_t from_incarnation,
                   const v1::Transfer& transfer, std::int64_t now_ms);
  // True when this acknowledgement completed the hand-off (the session left this node).
  bool on_ack(const std::string& from, const v1::TransferAck& ack, std::int64_t now_ms);
  // A Send the driver could not deliver at all (no connection): retried after resend_ms.
  void on_send_failed(const Send& send, std::int64_t now_ms);
  // Re-sends unacknowledged transfers; call every few tens of ms.
  void tick(std::int64_t now_ms);
  // This node stops serving (the membership already excludes it): hand everything off.
  void drain(std::int64_t now_ms);
  // A test cluster's reset (SessionSandbox): drops every session hosted here, moving or not, and
  // removes every key of the store (the removals replicate). Returns how many sessions it held.
  std::size_t reset();
  // This incarnation was declared down by the cluster, which has started its sessions elsewhere
  // from the store: every copy here is stale. Drops them all, hands nothing off, and from now on
  // decides nothing but waits.
  void fence();

  // Sessions picked up from the store accept changes only once a peer holds their new epoch's
  // stash. take_confirms() lists the keys to confirm: the driver flushes the store
  // (StashStore: every peer acknowledged, at least one) and reports with on_confirmed; false
  // (timed out, or no peer acknowledged) asks again at the next tick.
  void on_confirmed(const std::vector<std::string>& keys, bool acknowledged);

  // ---- outputs ----
  std::vector<Send> take_sends();
  std::vector<std::string> take_wakes();
  std::vector<std::string> take_confirms();

  // Abort (a bug) unless the state holds together: every moving session is hosted and frozen,
  // every session waiting for its confirmation is hosted, a fenced core hosts, moves and sends
  // nothing, and a draining node is not among the serving members. The node core checks after
  // every input, as SyncReplica and Membership check theirs: the key an input was about (cheap,
  // on the hot path), and everything at each tick and membership change (a sweep over the moves
  // and confirmations, which a drain holds hundreds of).
  void check_invariants(const std::string& key) const;
  void check_all_invariants() const;

  // ---- reads ----
  std::string owner(const std::string& key) const;
  const std::vector<std::string>& serving() const { return serving_; }
  bool moving(const std::string& key) const { return moves_.count(key) != 0; }
  bool has_quorum() const { return quorum_; }
  bool draining() const { return draining_; }
  // The store caught up with every peer since the last change of membership, quorum or touch:
  // until then no session is started here, from a hand-off or from the store.
  bool store_caught_up() const { return store_fresh(); }
  const OwnershipCounters& counters() const { return counters_; }

 private:
  struct Move {
    std::string to;
    std::string to_id;  // name#incarnation of `to` when it was chosen
    std::uint64_t epoch = 0;
    std::int64_t resend_at_ms = 0;
    bool retarget = false;  // the last attempt was refused for now: any owner may take it
    // The target (`to_id`) died and the session is ours again, but only through the store
    // (reclaim): the copy stays here, frozen, until the store may be started from.
    bool reclaim = false;
  };

  void rebalance(std::int64_t now_ms);
  void start_move(const std::string& key, std::int64_t now_ms);
  void send_transfer(const std::string& key, std::int64_t now_ms, bool retarget);
  void finish_move(const std::string& key, bool moved);
  // Starts the session from the store, at the stash's next epoch or `at_least`, the higher.
  bool pick_up(const std::string& key, bool only_if_holder_gone = false,
               std::uint64_t at_least = 0);
  bool reclaim(const std::string& key);
  bool holder_gone(std::string_view holder) const;
  bool holder_alive(const std::string& key) const;
  bool orphaned(const handoff::Stashed& s) const;
  // Whether the store may be started from: caught up since the last look (store_mark_).
  bool store_fresh() const;
  void look_again();  // takes a new store_mark_
  const std::string& self_id() const;
  void pick_up_orphans();
  bool superseded(const std::string& key) const;
  void wake(const std::string& key) { wakes_.push_back(key); }
  void forget(const std::string& key);   // stops hosting it
  void confirm(const std::string& key);  // holds its changes until a peer holds its stash

  OwnershipOptions options_;
  SessionStates& states_;
  handoff::StashStore* store_;
  std::vector<std::string> serving_;
  std::vector<std::string> previous_serving_;  // before the last change: who may be sending
  std::map<std::string, MemberState, std::less<>> members_;  // by name
  std::map<std::string, Move> moves_;
  std::vector<Send> sends_;
  std::vector<std::string> wakes_;
  std::set<std::string> confirming_;        // picked up; no peer has acknowledged the new epoch yet
  std::vector<std::string> to_confirm_;     // for take_confirms
  std::vector<std::string> confirm_again_;  // not acknowledged: to_confirm_ at the next tick
  // Transfers refused for now (store not caught up, no quorum): key -> sender, told at the
  // tick when this node is ready (TransferAck.ready).
  std::map<std::string, std::string> ready_wanted_;
  std::int64_t last_change_ms_ = -1'000'000'000;
  bool draining_ = false;
  bool fenced_ = false;
  bool orphans_pending_ = false;    // a pick-up waited for the store to catch up
  bool rebalance_pending_ = false;  // sessions left for later by max_moves_in_flight
  bool quorum_ = true;
  bool in_touch_ = true;
  // The store's mark (StashStore::refresh) taken at the last change of membership, quorum or
  // touch: sessions are started from the store only once it caught up since then.
  std::uint64_t store_mark_ = 0;
  OwnershipCounters counters_;
};

}  // namespace minotaur::sessions
