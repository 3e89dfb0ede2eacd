// The network: one connection per pair of live nodes that are not partitioned from each other,
// as the transport keeps one TCP connection per peer. Messages are in order on a connection and
// delayed, a connection breaks at a message with probability `loss`, a message is delivered
// twice with probability `duplicate`, and what is in flight is lost when a connection closes
// (world.h, the design note).
#include <fmt/format.h>

#include "sim/world_impl.h"

namespace minotaur::sim {

// No other live node is on its side of a partition.
bool World::isolated(const std::string& name) {
  for (const std::string& other : names_) {
    if (other != name && live(other) != nullptr && !partitioned(name, other)) return false;
  }
  return true;
}

bool World::partitioned(const std::string& a, const std::string& b) const {
  if (side_.empty()) return false;
  return side_.at(a) != side_.at(b);
}

void World::connect(const std::string& a, const std::string& b) {
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
  const transport::NodeIdentity ia{a, na->incarnation, address_of(a)};
  const transport::NodeIdentity ib{b, nb->incarnation, address_of(b)};
  apply(*na, na->membership->on_peer_connected(ib, now_));
  if (Node* nb2 = live(b); nb2 != nullptr)
    apply(*nb2, nb2->membership->on_peer_connected(ia, now_));
}

void World::disconnect(const std::string& a, const std::string& b) {
  auto it = connections_.find(pair_of(a, b));
  if (it == connections_.end()) return;
  connections_.erase(it);
  // Each live end sees the connection close after a delay (a dead end sees nothing).
  for (const auto& [self, other] : {std::make_pair(a, b), std::make_pair(b, a)}) {
    Node* n = live(self);
    if (n == nullptr) continue;
    const Node& o = nodes_.at(other);
    const transport::NodeIdentity io{other, o.incarnation, address_of(other)};
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

void World::send(const Node& from, const std::string& to, Message m) {
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

void World::arrive(std::uint64_t conn, const std::string& src, std::uint64_t src_inc,
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

}  // namespace minotaur::sim
