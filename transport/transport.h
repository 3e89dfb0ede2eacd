// Transport: the cluster port's runtime. TCP over Boost.Asio (C++20 coroutines), one
// authenticated connection per peer, framed Protocol Buffers envelopes.
//
// What it does
// - Listens on TransportConfig::listen_address; every accepted connection must complete the
//   handshake (transport/handshake.h) within handshake_timeout_ms or it is closed. A peer that
//   fails the handshake is dropped before any application frame is read.
// - connect(address) registers a dial target: the transport keeps a connection to whatever node
//   answers there, redialing with exponential back-off (reconnect_initial_ms doubling up to
//   reconnect_max_ms, each wait drawn uniformly from [b/2, b]). A target that turns out to be this
//   node itself (same name and incarnation) is dropped after the first handshake.
// - One connection per peer name. When both sides dial each other, the connection dialed by the
//   node with the lexicographically lower name is kept, on both sides; frames still queued on the
//   loser move to the winner. A peer that comes back with a higher incarnation replaces the old
//   connection (on_peer_disconnected for the old incarnation, then on_peer_connected); a lower
//   incarnation is refused.
// - send() queues one Envelope frame for a connected peer. The queue is bounded
//   (send_queue_max_frames, send_queue_max_bytes); a send that would overflow it closes the
//   connection (the peer is not reading: a slow or stuck consumer), returns kQueueFull, and the
//   dial target, if any, reconnects. Delivery is at most once and in order per connection;
//   frames queued when a connection drops are lost. Layers above must tolerate loss.
// - Frames from authenticated peers are bounded by max_frame_bytes (16 MiB by default), and by
//   kHandshakeMaxFrameBytes before the handshake. A peer that sends an oversized length, an
//   undecodable envelope, or garbage is disconnected and counted; the listener keeps serving.
//
// Threads: everything runs on the io_context passed in. Call every method from that context's
// thread (or via asio::post); a single thread running the io_context is the intended use. The
// handlers are called on that thread, never from inside a call to a Transport method, so they
// may call send(), connect() and stop() freely.
//
// Lifetime: stop() (also run by the destructor) closes the listener and every connection,
// cancels every dial loop, and guarantees that no handler is called afterwards. Coroutines still
// parked in the io_context finish on its next run (or are destroyed with it); they keep the
// internal state alive by shared_ptr, never the Transport object.
//
// Weaknesses: frames are not encrypted (a private network is assumed, see handshake.h); two dial
// targets that reach the same peer (an IP and a name) may briefly both connect, and the duplicate
// is closed; a simultaneous dial from both sides may show a short disconnect/connect blip on the
// side that sees the losing connection close before the winning one is authenticated.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "transport/frame.h"
#include "transport/handshake.h"
#include "transport/identity.h"
#include "transport/protocol_range.h"
#include "transport/wire.pb.h"

namespace minotaur::transport {

struct TransportConfig {
  // name and incarnation identify this node; address is what peers are told to dial. An empty
  // address means "the listen address with the port actually bound" (useful with port 0).
  NodeIdentity self;
  std::string listen_address = "127.0.0.1:0";  // host:port to bind; port 0 picks a free port
  std::string secret;                          // the cluster secret, 1..kMaxSecretBytes bytes
  // The protocol versions this node speaks (valid_protocol_range; transport/handshake.h) and
  // its build as the handshake states it (valid_build_text; empty: none stated). A node takes
  // another range only for tests (minotaur node --unsafe-protocol-range).
  ProtocolRange protocol_range = kProtocolRange;
  std::string build;

  std::size_t max_frame_bytes = kDefaultMaxFrameBytes;
  std::size_t send_queue_max_frames = 4096;
  std::size_t send_queue_max_bytes = std::size_t{64} << 20;  // 64 MiB
  std::uint32_t handshake_timeout_ms = 3000;                 // from connect start to authenticated
  std::uint32_t reconnect_initial_ms = 100;
  std::uint32_t reconnect_max_ms = 2000;
  // Established connections and our own dials, both directions. Accepted connections that
  // have not authenticated yet have a budget of their own, so that a flood of strangers at the
  // cluster port cannot keep a restarted member from rejoining.
  std::size_t max_connections = 512;
  std::size_t max_handshaking = 64;  // accepted, not yet authenticated; the oldest makes room
  std::size_t max_dial_targets = 512;
};

// A handshake refused for want of a protocol version in common, with an authenticated peer
// (transport/handshake.h, "Protocol versions"); both sides see one.
struct ProtocolRefusal {
  NodeIdentity peer;
  ProtocolRange peer_range;
  std::string peer_build;  // empty: a build that does not state one
  bool we_dialed = false;  // this node dialed the peer (it is the one joining, or redialing)
};

struct TransportHandlers {
  std::function<void(const NodeIdentity& peer)> on_peer_connected;
  std::function<void(const NodeIdentity& peer)> on_peer_disconnected;
  // payload is valid only during the call.
  std::function<void(const NodeIdentity& peer, v1::Channel channel, std::string_view payload)>
      on_message;
  // A dial target turned out to be this node itself; it is no longer dialed (a seed list that
  // contains this node, e.g. from DNS). Optional.
  std::function<void(const std::string& address)> on_dialed_self;
  // A peer that holds the secret speaks no protocol version this node speaks; the transport has
  // logged it and closed the connection (a dial target is redialed as usual). Optional.
  std::function<void(const ProtocolRefusal& refusal)> on_protocol_refused;
};

// Monotonic counters for /metrics. Plain integers: read them on the io_context's thread.
struct TransportCounters {
  std::uint64_t messages_sent = 0;      // envelopes written to a socket
  std::uint64_t messages_received = 0;  // envelopes delivered to on_message
  std::uint64_t bytes_sent = 0;         // every byte written, handshakes included
  std::uint64_t bytes_received = 0;     // every byte read, handshakes included
  std::uint64_t connections_accepted = 0;
  std::uint64_t dial_attempts = 0;
  std::uint64_t dial_failures = 0;  // no connection, or the handshake failed or timed out
  std::uint64_t reconnects = 0;     // a dial target authenticated again after a lost connection
  std::uint64_t handshakes_ok = 0;
  std::uint64_t handshake_failures = 0;  // refused peers (wrong secret, malformed, version, ...)
  std::uint64_t handshake_timeouts = 0;
  std::uint64_t protocol_refusals = 0;  // of those failures: no protocol version in common
  std::uint64_t peers_connected = 0;
  std::uint64_t peers_disconnected = 0;
  std::uint64_t connections_refused_limit = 0;        // max_connections reached
  std::uint64_t connections_refused_handshaking = 0;  // oldest strangers dropped to make room
  std::uint64_t frames_rejected = 0;                  // oversized or undecodable frames from peers
  std::uint64_t sends_not_connected = 0;
  std::uint64_t send_queue_overflows = 0;
};

enum class SendError {
  kNotConnected,  // no authenticated connection to that peer name right now
  kQueueFull,     // the peer's send queue was full: the connection is being closed
  kTooLarge,      // the envelope exceeds max_frame_bytes
  kStopped,       // stop() was called
};

const char* to_string(SendError e);

namespace detail {
class TransportImpl;
}  // namespace detail

class Transport {
 public:
  // config.self.name must be a valid node name, incarnation non-zero, the secret non-empty.
  Transport(boost::asio::io_context& io, TransportConfig config, TransportHandlers handlers);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Replaces the handlers; only before start() (so they may capture objects, like Membership,
  // that need self() and are built after the Transport).
  void set_handlers(TransportHandlers handlers);

  // Binds and listens. An error (address in use, bad address) says what to change.
  Result<Ok, std::string> start();

  // This node's identity, with the advertised address filled in once start() succeeded.
  const NodeIdentity& self() const;
  std::uint16_t listen_port() const;

  // Keeps a connection to host:port (idempotent). Bad addresses are refused with a reason.
  Result<Ok, std::string> connect(const std::string& address);
  // Stops redialing that address; an established connection stays until it drops.
  void forget(const std::string& address);

  Result<Ok, SendError> send(std::string_view peer_name, v1::Channel channel,
                             std::string_view payload);

  // Closes the connection to that peer, if any (on_peer_disconnected follows asynchronously).
  void disconnect(std::string_view peer_name);

  bool connected(std::string_view peer_name) const;
  // True when every frame queued to a connected peer has been written to its socket (used by
  // the drain: the last messages must leave before stop() closes the connections).
  bool idle() const;
  std::vector<NodeIdentity> peers() const;  // sorted by name
  const TransportCounters& counters() const;

  void stop();

 private:
  std::shared_ptr<detail::TransportImpl> impl_;
};

}  // namespace minotaur::transport
