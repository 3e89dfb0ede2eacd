// Membership: who is in the cluster, as a sans-I/O state machine. No sockets, no clock, no
// randomness: every step takes now_ms (a monotonic clock in milliseconds) and returns a Step
// (messages to send, addresses to keep dialing or to forget, events). The Asio node and the
// deterministic test driver (membership_sim.h) drive the same code.
//
// Model
// - A member table maps each node name to one incarnation, its address and a status. For one
//   incarnation the status only grows (up < leaving < down); a higher incarnation of a name
//   replaces a lower one (the old one is down). Merging two tables is therefore a join, and
//   gossip converges whatever the order, loss or duplication of messages.
// - Discovery: the runtime dials the seeds (Step::connect at start()); every connected peer is
//   up and gets our whole table (Gossip). Every heartbeat_interval_ms we send each connected
//   member a Heartbeat carrying a hash of our table; a member whose hash differs answers with its
//   table (at most once per heartbeat interval per peer). Members learned from gossip are dialed
//   (Step::connect), so the cluster becomes a full mesh. A gossip that brings news (a status
//   change), and a failure this node detects itself, are pushed on at once to every other
//   connected member: O(n^2) messages per change.
// - Failure detection is a fixed bound: a member (up or leaving) we have not heard from - no
//   message and no new connection - for more than failure_timeout_ms is down, and the down
//   status spreads by gossip. With the defaults (heartbeat 200 ms, bound 1500 ms, ticks every
//   <= 100 ms) a silent member is down everywhere within about 1.6 s plus network delay, and
//   never before 1.5 s minus one heartbeat interval after its last heartbeat.
// - leave() marks this node leaving and tells every connected member at once; they take it out
//   of serving_members() on receipt, and relay it: everyone knows within two network delays
//   (no time-out). When a leaving member's connection then closes it is down at once.
// - Names are unique: one incarnation per name is current. A node marks itself down (event,
//   self_down()) when the cluster says its own incarnation is down or a newer incarnation of its
//   name exists (it was replaced, or another process uses its name). Down is final for an
//   incarnation: such a node must restart with a new, larger incarnation.
// - Down entries stay as tombstones for down_retention_ms so that stale gossip cannot bring an
//   old incarnation back, then are dropped.
//
// Voters (who counts for the quorum, see has_quorum)
// - A name votes once it is a full member: a node holding the quorum heard its current
//   incarnation confirm this node's table (its table has this node alive) without a gap longer
//   than the lease for at least failure_timeout_ms. That node records it in the table
//   (admitted_incarnation, per name) and the record spreads by gossip like a status. A name that
//   connected (handshook) and went silent, or that only appears in gossip, never confirmed
//   anyone for a failure bound: it is a candidate and counts neither for nor against the quorum.
//   So a process with the secret that handshakes under new names cannot stop the cluster; the
//   quorum declares those names down as usual. A candidate is a learner: it has the quorum when
//   a majority of the voters count it alive, as anyone, and it is placed and serves.
// - The vote belongs to the name: a restarted node (a new incarnation) votes at once, as before,
//   because the cluster knows its name was admitted (and so it itself learns from the first
//   gossip). Members that crashed, were cut off or left keep their votes until their tombstone is
//   dropped: they may be alive on the other side of a cut, or back there as a new incarnation.
// - One change at a time, as in Raft's single-server changes: the majorities of a voter set and
//   of that set plus (or minus) one name always intersect, so two sides that differ by one
//   admission or removal cannot both hold a majority. Hence only one node admits, the voter
//   that is up and first by name, it admits one name per step, and only once every member that
//   is not down confirmed its current table (the previous change reached everyone); an operator
//   removal waits for the same.
// - The first formation: while this node's table has no voter at all (a cluster just formed, or
//   nodes of a version before voters), every name in the table counts that is not removed, as
//   before voters existed.
//   The first admission takes every member that is up at once, once each of them confirmed for a
//   failure bound and holds the same table: everyone counts the same names before and after.
// - An operator removes a name that is down (remove): the removal (removed_incarnation, per
//   name) revokes the votes of that incarnation and every earlier one, marks it down, and
//   spreads by gossip; a removed node that comes back is told it is down, exits, and rejoins as
//   a new incarnation, a candidate that must be admitted again (a later admission outranks the
//   removal; an earlier one never does, whatever stale gossip says). Only a node that holds the
//   quorum removes: on the minority side of a cut a node cannot tell a member that is gone from
//   one that serves on the other side, and a removal decided there would hand it a majority of
//   its own. When the majority is gone for good (two of three machines lost), the operator says
//   so (force): that is the operator's word, not the protocol's, and wrong on the minority side
//   of a cut it breaks the one-owner guarantee.
//
// Limits: at most max_members entries (tombstones first to go, those of non-voters before those
// of voters), kMaxGossipEntries per message.
//
// Threads: not thread-safe; one owner calls every method from one thread.
//
// Weaknesses: failure detection is per observer and down is final, so a member cut off from just
// one other member for longer than the bound is removed from the whole cluster and must restart
// (a conservative choice: no flapping, one view). Heartbeats are a full mesh, O(n^2) messages
// per interval: fine for tens of nodes, not for thousands. Voter changes are not consensus: an
// admission and an operator's removal decided on two nodes at once (or two admitters, when one
// has not yet learned that a voter first by name is up), parted by a cut at that moment, can
// leave two views that differ by two names; a tombstone dropped after down_retention_ms shrinks
// the voters without coordination.
// During the first formation every name counts, so a handshake under a new name then can stop
// the quorum until an operator removes the name (force). Anyone with the secret can still lie in
// gossip (declare members down, admit names): the secret is the trust boundary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cluster/member.h"
#include "cluster/membership.pb.h"
#include "transport/identity.h"

namespace minotaur::cluster {

inline constexpr std::size_t kMaxGossipEntries = 1024;

struct MembershipConfig {
  transport::NodeIdentity self;    // must be valid (transport::valid_identity)
  std::vector<std::string> seeds;  // host:port addresses, already resolved; may include self
  // The four timings below follow the failure bound (set_failure_bound); these are its default.
  std::uint32_t heartbeat_interval_ms = 200;
  std::uint32_t failure_timeout_ms = 1500;
  std::uint32_t down_retention_ms = 10 * 60 * 1000;
  std::uint32_t quorum_lease_ms = 1000;  // see has_quorum; < failure_timeout - heartbeat
  std::uint32_t quorum_regain_ms = 400;  // held without a break (fresh confirmations) to regain
  std::size_t max_members = 256;         // entries, this node and tombstones included

  // The failure bound (`minotaur node --failure-bound-ms`): a member silent for longer is down.
  // The heartbeat interval (2/15 of it), the quorum lease (2/3) and the time to regain the
  // quorum (4/15) follow from it in the default's proportions (200, 1,000 and 400 ms at 1,500),
  // so that lease < bound - heartbeat always holds and one owner stays one owner: the minority
  // side of a cut stops accepting changes before the majority declares it down (has_quorum).
  // Refused outside [kMinFailureBoundMs, kMaxFailureBoundMs], with what to choose instead.
  static constexpr std::uint32_t kMinFailureBoundMs = 300;  // heartbeats every 40 ms
  static constexpr std::uint32_t kMaxFailureBoundMs = 60'000;
  Result<Ok, std::string> set_failure_bound(std::uint32_t bound_ms);
  // How often a driver must call Membership::tick: half a heartbeat, at most Membership::kTickMs.
  std::int64_t tick_ms() const;
};

struct Send {
  std::string to;  // a member name; the runtime sends on transport channel CHANNEL_MEMBERSHIP
  v1::MembershipMessage message;
};

// What one step asks of the runtime. Apply it in this order: forget, connect, sends, events.
struct Step {
  std::vector<std::string> connect;  // keep a connection to these addresses (Transport::connect)
  std::vector<std::string> forget;   // stop dialing these addresses (Transport::forget)
  std::vector<Send> sends;
  std::vector<MemberEvent> events;  // publish to subscribers (MemberEventHub)

  void append(Step&& other);
};

// Wire helpers for the runtime: the payload bytes of a Send, and the reverse. A payload that does
// not decode is an operating error (log it, drop it, keep the connection).
std::string encode_membership(const v1::MembershipMessage& m);
Result<v1::MembershipMessage, std::string> decode_membership(std::string_view payload);

class Membership {
 public:
  // How often a driver calls tick() (heartbeats and failure detection run on it); the node and
  // the simulator both use it.
  static constexpr std::int64_t kTickMs = 100;

  explicit Membership(MembershipConfig config);

  // First step: this node is up (event), dial the seeds.
  Step start(std::int64_t now_ms);

  // Call at least every heartbeat_interval_ms / 2 (e.g. every 100 ms): sends heartbeats,
  // declares silent members down, drops old tombstones.
  Step tick(std::int64_t now_ms);

  // Transport events and messages (Transport's on_peer_connected / on_peer_disconnected /
  // on_message for CHANNEL_MEMBERSHIP, decoded with decode_membership).
  Step on_peer_connected(const transport::NodeIdentity& peer, std::int64_t now_ms);
  Step on_peer_disconnected(const transport::NodeIdentity& peer, std::int64_t now_ms);
  Step on_message(const transport::NodeIdentity& from, const v1::MembershipMessage& message,
                  std::int64_t now_ms);
  // The transport found that a seed address is this node itself (Transport's on_dialed_self).
  Step on_dialed_self(const std::string& address, std::int64_t now_ms);

  // Announces that this node is leaving to every connected member. Keep ticking (heartbeats go
  // on, so the others wait for the hand-off) until the node exits.
  Step leave(std::int64_t now_ms);

  // Members with status up, this node included while it is up, sorted by name: the view
  // placement uses.
  std::vector<Member> serving_members() const;
  // Every entry, tombstones included, sorted by name.
  std::vector<Member> members() const;
  // The entry for a name, or nullptr.
  const Member* find(std::string_view name) const;

  // A member that is up or leaving and that this node has not heard from for more than the
  // failure bound: down as far as this node can tell, though the cluster has not declared it so
  // (only a node holding the quorum declares a member down). What the cluster view shows, so
  // that a node on the minority side never lists its silent peers as up.
  bool unreachable(std::string_view name, std::int64_t now_ms) const;
  // True once this node heard from another member, or has no seed other than itself: /readyz.
  bool joined() const { return joined_; }
  bool leaving() const;
  // The cluster declared this incarnation down (or a newer one of our name exists): restart.
  bool self_down() const;
  // The quorum lease: true when this node heard, within lease_ms, from a majority of the
  // cluster's voters that they count it alive (their table has this incarnation up or leaving:
  // a node cut off long enough to be declared down regains no quorum when it reconnects — it
  // learns it is down instead). Voters: the names admitted and not removed (see "Voters"),
  // itself included when it is one, whatever their status until their tombstone is dropped
  // (down_retention_ms): those that are up or leaving (also those that have not yet counted it
  // alive: a node that joins sees the cluster's voters in its seed's table, and must not hold a
  // quorum with the seed alone), and those that are down — crashed or cut off (they may be alive
  // on the other side of a partition, or back as a new incarnation this node has not heard of),
  // and also those that left gracefully (a deploy restarts them, maybe on the other side of a
  // cut). The cost: a cluster shrunk for good keeps its old size for the quorum until the
  // tombstones go or an operator removes them (remove). On the minority side of a partition
  // this turns false within lease_ms, before the majority declares the minority down
  // (failure_timeout_ms): choose lease_ms < failure_timeout_ms - heartbeat_interval_ms, and the
  // minority stops accepting changes before the majority starts the same sessions again.
  bool has_quorum(std::int64_t now_ms) const;
  // Whether the name counts for the quorum now (admitted, not removed; before the first
  // admission, every name not removed), and how many names do.
  bool votes(std::string_view name) const;
  std::size_t voter_count() const;
  // True once a name was admitted here (the cluster formed); before, every name counts.
  bool formed() const { return any_admitted(); }
  // Whether an operator removed the name's current incarnation.
  bool removed(std::string_view name) const;

  // An operator's removal of a member that is gone for good, so that the voters shrink. Refused
  // (nothing changes) for a name not in the table (kUnknown), this node itself or a member heard
  // from within the failure bound (kAlive: stop it first), without the quorum unless `force`
  // (kNoQuorum, see "Voters"), and while the last membership change has not reached every
  // member yet (kBusy: retry; not with force). Removing a removed name again succeeds.
  enum class RemoveError { kUnknown, kAlive, kNoQuorum, kBusy };
  struct RemoveRefusal {
    RemoveError error = RemoveError::kUnknown;
    std::string message;  // says what to do next
  };
  Result<Step, RemoveRefusal> remove(std::string_view name, bool force, std::int64_t now_ms);
  // Every member that is up or leaving counted this node alive within the quorum lease: none is
  // cut off or unknown to it. Only then does the replicated store hold what every live node
  // stashed (once caught up), and may a session be started from it.
  bool all_in_touch(std::int64_t now_ms) const;  // lease: config quorum_lease_ms
  const MembershipConfig& config() const { return config_; }
  // A peer declares members down after `bound_ms` (its --failure-bound-ms, which it tells in its
  // node info). When that is shorter than this node's bound, this node's heartbeat, quorum lease
  // and regain time shrink to that bound's (never to grow back until a restart): else the peer
  // could declare this node down while its lease still let it accept changes, and a session
  // would have two owners — so a cluster can even be moved to a new bound by a rolling restart.
  // A bound outside the valid range is ignored. True when the timings shrank.
  bool fit_peer_failure_bound(std::uint32_t bound_ms);
  std::uint64_t table_hash() const;

 private:
  struct Entry {
    Member member;
    std::int64_t last_heard_ms = 0;  // direct evidence it is alive, or when we learned of it
    std::int64_t status_since_ms = 0;
    std::int64_t last_gossip_sent_ms = -1;  // rate limit for answers to a differing hash
    bool connected = false;
    bool left = false;  // this incarnation announced leaving (its going down is no failure)
    // Last time it showed that its table has this node's incarnation alive (a heartbeat with
    // our table's hash, or a gossip listing us): what the quorum lease counts.
    std::int64_t confirmed_ms = -1;
    bool ever_confirmed = false;
    // Since when it has confirmed without a gap longer than the lease (-1: not now).
    std::int64_t confirmed_since_ms = -1;
    // The table hash of its last heartbeat that matched ours, and when: it holds that table.
    std::uint64_t agreed_hash = 0;
    std::int64_t agreed_ms = -1;
    // Per name, kept when a newer incarnation replaces this one (see "Voters"): the incarnation
    // admitted as a voter and the last one an operator removed (0: none).
    std::uint64_t admitted = 0;
    std::uint64_t removed = 0;
  };
  struct Votes {  // what a gossiped member state says of its name's vote
    std::uint64_t admitted = 0;
    std::uint64_t removed = 0;
  };

  void advance(std::int64_t now_ms);
  // Merges one member state (the join of the two tables, see the design note).
  void merge(const Member& m, Votes votes, std::int64_t now_ms, Step& step);
  void merge_self(const Member& m, Votes votes, std::int64_t now_ms, Step& step);
  void set_status(Entry& e, MemberStatus s, std::int64_t now_ms, Step& step,
                  bool may_forget = true);
  void send_gossip(Entry& e, std::int64_t now_ms, Step& step);
  enum class Voters { kAll, kConfirmed };  // see has_quorum
  bool quorum_now(std::int64_t now_ms, std::int64_t lease_ms, Voters voters_are) const;
  bool counts(const Entry& e, bool first_formation) const;  // a voter (see "Voters")
  bool any_admitted() const;
  void note_confirmed(Entry& e, std::int64_t now_ms);
  // True when every member that is not down holds this node's current table.
  bool table_agreed(std::int64_t now_ms) const;
  void admit(std::int64_t now_ms, Step& step);  // on every tick
  void track_quorum(std::int64_t now_ms);       // on every step
  void tell_it_is_down(const transport::NodeIdentity& peer, std::int64_t now_ms, Step& step);
  // Sends our table to every connected live member but `except`.
  void push_news(std::string_view except, std::int64_t now_ms, Step& step);
  v1::MembershipMessage gossip() const;
  bool evict_one_tombstone();
  bool address_still_needed(const std::string& address) const;
  Entry& self_entry();
  const Entry& self_entry() const;
  void check_invariants() const;

  MembershipConfig config_;
  std::map<std::string, Entry, std::less<>> entries_;  // self included
  std::vector<std::string> seeds_;
  std::int64_t now_ms_ = 0;
  std::int64_t last_heartbeat_ms_ = 0;
  bool started_ = false;
  bool had_quorum_ = false;
  bool quorum_lost_ = false;
  std::int64_t quorum_since_ms_ = -1;
  bool joined_ = false;
};

}  // namespace minotaur::cluster
