// ClusterRuntime: this node's seat in the cluster — the transport (cluster port), membership
// and the member events, wired as cluster/README.md describes, plus NodeInfo exchange (each
// peer's HTTP address and session count).
//
// Design note: Membership is sans-I/O; this class is its Asio driver (a 100 ms tick, transport
// events in, Steps out). Other layers (hand-off, forwarding, replication) register a handler for
// their transport channel and subscribe to member events here. Seeds that are DNS names are
// resolved once at start into every A/AAAA record; when seeds are given and none resolves, the
// start waits for one to (a node given seeds never forms a cluster of its own).
//
// Weakness: DNS seeds are not re-resolved later, so a cluster whose every seed address changed
// while this node was cut off cannot be found again without a restart.
//
// Thread: the io_context's single thread, like everything in a node.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "base/result.h"
#include "cluster/member_events.h"
#include "cluster/membership.h"
#include "transport/transport.h"

namespace minotaur::node {

struct ClusterRuntimeConfig {
  std::string name;
  std::string cluster_address;  // HOST:PORT to listen on
  std::string http_address;     // HOST:PORT players use, told to peers
  std::vector<std::string> seeds;
  std::string cookie;
  // The incarnation is wall-clock ms at start, but at least this (a data dir's last one + 1):
  // it must grow across restarts of a name even when the wall clock went back.
  std::uint64_t min_incarnation = 0;
  // This node's build (base/build_info.h), told to peers in the handshake and in NodeInfo.
  std::string version;
  std::string commit;
  // The protocol versions the handshake states; another range only for tests.
  transport::ProtocolRange protocol_range = transport::kProtocolRange;
  std::uint32_t failure_bound_ms = cluster::MembershipConfig{}.failure_timeout_ms;
};

class ClusterRuntime {
 public:
  using ChannelHandler =
      std::function<void(const transport::NodeIdentity& from, std::string_view payload)>;

  ClusterRuntime(boost::asio::io_context& io, ClusterRuntimeConfig config,
                 std::function<std::uint64_t()> session_count);
  ~ClusterRuntime();

  // Listens and starts joining. Handlers for other channels must be registered before.
  Result<Ok, std::string> start();
  void on_channel(transport::v1::Channel channel, ChannelHandler handler);
  // Called when a peer that holds the secret shares no protocol version with this node (the
  // transport has logged both ranges and builds). Register before start().
  void on_protocol_refused(std::function<void(const transport::ProtocolRefusal&)> handler) {
    on_refused_ = std::move(handler);
  }

  bool ready() const;      // joined and not declared down
  bool joined() const;     // heard from the cluster (or alone by design): knows the owners
  bool self_down() const;  // the cluster removed this incarnation: the node must exit
  // The quorum lease (Membership::has_quorum): false on the minority side of a partition.
  bool has_quorum() const;
  bool all_in_touch() const;  // Membership::all_in_touch
  std::vector<cluster::Member> serving_members() const;
  std::vector<cluster::Member> members() const;  // every entry, tombstones included
  // The membership itself, for what reads it whole (sessions::view_of); null before start().
  const cluster::Membership* membership() const { return members_ ? &*members_ : nullptr; }
  cluster::MemberEventHub& events() { return hub_; }
  transport::Transport& transport() { return net_; }

  // An operator's removal of a member that is gone for good (Membership::remove): applied here
  // and spread to every member by gossip.
  Result<Ok, cluster::Membership::RemoveRefusal> remove_member(const std::string& name, bool force);

  // Each member with its status, whether it votes, and the build it runs (version and commit:
  // null until its node told it, and for builds that do not).
  boost::json::array members_json() const;
  boost::json::object quorum_json() const;  // {"held", "voters", "formed"}: the quorum now
  // Adds the members up and the transport's counters to the node's registry, read from here
  // while it renders.
  void add_metrics(Metrics& registry) const;

  // Tells every member this node is leaving: they take it out of placement at once. The
  // connections stay open (for the hand-off) until close().
  void announce_leaving();
  // Waits (at most `bound_ms`) until every queued message has left the socket buffers, then
  // closes every connection. `done` runs afterwards on the io_context.
  void close(std::int64_t bound_ms, std::function<void()> done);

 private:
  void apply(cluster::Step step);
  void tick();
  void send_info(const std::string& peer);
  std::int64_t now_ms() const;

  boost::asio::io_context& io_;
  ClusterRuntimeConfig config_;
  std::function<std::uint64_t()> session_count_;
  transport::Transport net_;
  std::optional<cluster::Membership> members_;
  cluster::MemberEventHub hub_;
  boost::asio::steady_timer tick_timer_;
  std::int64_t tick_ms_ = cluster::Membership::kTickMs;  // MembershipConfig::tick_ms
  std::map<transport::v1::Channel, ChannelHandler> handlers_;
  struct PeerInfo {
    std::string http_address;
    std::uint64_t sessions = 0;
    std::string version;  // empty: not told
    std::string commit;
  };
  std::function<void(const transport::ProtocolRefusal&)> on_refused_;
  std::map<std::string, PeerInfo> peer_info_;
  std::int64_t last_info_ms_ = 0;
  bool leaving_ = false;
};

}  // namespace minotaur::node
