// The cluster-port handshake as a sans-I/O state machine: both sides prove they hold the cluster
// secret, exchange who they are, and agree on a protocol version. No sockets, no clock, no
// randomness here: the runtime passes in a fresh nonce and enforces the deadline
// (TransportConfig::handshake_timeout_ms).
//
// Flow (every message is one frame carrying a HandshakeMessage, transport/wire.proto):
//
//   dialer                                   acceptor
//     Hello{version, name, incarnation, address, nonce_d}  ->   (both send Hello at once)
//     <-  Hello{..., nonce_a}
//     Proof{HMAC(secret, "dialer"   | Hello_d | Hello_a)}  ->   checked with CRYPTO_memcmp
//     <-  Proof{HMAC(secret, "acceptor" | Hello_d | Hello_a)}    sent only after the check
//
// The transcript covers both Hellos byte for byte, so a proof is bound to this connection's two
// fresh nonces and to the prover's role; it cannot be replayed on another connection or reflected
// back. The acceptor proves itself only after the dialer did, so an anonymous client of the
// listening port learns no MAC at all. A failing side sends Reject{reason} and the connection is
// closed: no application frame is read before done() is true.
//
// Protocol versions: each Hello states the range of protocol versions its sender speaks
// (transport/protocol_range.h; a Hello without one, from a build before ranges were sent, speaks
// 1) and the sender's build ("0.1.0 (commit ...)"). The two sides talk at the highest version
// both speak. When they share none, the refusal waits until both proofs are checked: the dialer
// still proves itself, the acceptor answers with its own Proof and then Reject{VERSION}, and the
// dialer checks that Proof before it refuses in turn. So each side refuses an *authenticated*
// peer, and the ranges and builds it reports are the ones the peer signed in the transcript: a
// stranger at a seed's address cannot make a joining node give up (the node exits on this
// refusal, node/node.h). A stranger still reads our Hello, range and build included: the
// cluster port belongs on a private network (docs/THREATS.md).
//
// Weaknesses: the dialer reveals a MAC to whatever answers on the address it dialed (seeds and
// gossip are trusted for addresses), so a low-entropy secret could be guessed offline from it -
// use a long random cookie. The handshake does not encrypt or authenticate later frames: use a
// private network (or TLS, later) against an on-path attacker.
//
// Threads: one Handshake per connection, used by one thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "transport/identity.h"
#include "transport/protocol_range.h"

namespace minotaur::transport::v1 {
class Hello;
}  // namespace minotaur::transport::v1

namespace minotaur::transport {

// The protocol versions this build speaks: the oldest and the newest. Raise kProtocolVersion
// when the cluster port's messages change in a way an older node cannot read; raise
// kMinProtocolVersion only once no release still in use speaks the versions below it.
inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::uint32_t kMinProtocolVersion = 1;
inline constexpr ProtocolRange kProtocolRange{kMinProtocolVersion, kProtocolVersion};
inline constexpr std::size_t kMaxBuildBytes = 128;
inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kMaxSecretBytes = 4096;

using Nonce = std::array<unsigned char, kNonceBytes>;

enum class Role { kDialer, kAcceptor };

enum class HandshakeError {
  kMalformed,          // a frame was not a valid handshake message, or a Hello field is invalid
  kUnexpectedMessage,  // a valid message at the wrong step
  kVersionMismatch,    // no protocol version in common (the peer is authenticated)
  kBadProof,           // the peer's MAC is wrong: its cluster secret differs
  kSelfConnect,        // the peer has this node's own name (a dial to ourselves, or a name clash)
  kRejectedByPeer,     // the peer sent Reject (see HandshakeFailure::peer_reason)
};

const char* to_string(HandshakeError e);

struct HandshakeFailure {
  HandshakeError error;
  // Frame payloads to send before closing (a Reject, when this side refused); may be empty.
  std::vector<std::string> send;
  // The peer's stated reason when error == kRejectedByPeer (wire.proto Reject.Reason value).
  int peer_reason = 0;
  // For kSelfConnect: the peer's incarnation equals ours, i.e. we dialed our own address.
  bool same_process = false;
  // For kVersionMismatch: the authenticated peer, the range it speaks and its build (empty from
  // builds that did not send one).
  NodeIdentity peer;
  ProtocolRange peer_range;
  std::string peer_build;
};

// Whether a peer's build text may be shown: printable ASCII, at most kMaxBuildBytes (empty is
// fine: older builds send none).
bool valid_build_text(std::string_view build);

// What this side states in its Hello besides its identity.
struct HandshakeOptions {
  ProtocolRange range = kProtocolRange;  // must be valid (valid_protocol_range)
  std::string build;                     // valid_build_text; empty: not stated
};

struct HandshakeStep {
  std::vector<std::string> send;  // frame payloads to send, in order
  bool done = false;              // the peer is authenticated; peer() and version() are valid
};

// Decodes a handshake frame payload and checks its shape; exposed for the fuzz target.
bool handshake_message_well_formed(std::string_view payload);

class Handshake {
 public:
  // self must be valid (valid_identity); the secret must be 1..kMaxSecretBytes bytes; the nonce
  // must come from a cryptographic random source and never be reused.
  // options.range and options.build must be valid: they are this node's own configuration.
  Handshake(Role role, std::string_view secret, NodeIdentity self, const Nonce& nonce,
            HandshakeOptions options = {});

  // The Hello to send as soon as the connection is open (both roles).
  std::string hello() const { return my_hello_; }

  // Feeds one received frame payload. An error ends the handshake; further calls are bugs.
  Result<HandshakeStep, HandshakeFailure> on_frame(std::string_view payload);

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }
  Role role() const { return role_; }
  // The authenticated peer; only when done().
  const NodeIdentity& peer() const;
  // The agreed protocol version (the highest both speak); only when done().
  std::uint32_t version() const;
  // What the authenticated peer stated: its range and its build; only when done().
  const ProtocolRange& peer_range() const;
  const std::string& peer_build() const;
  const ProtocolRange& range() const { return options_.range; }

 private:
  enum class State { kAwaitHello, kAwaitProof, kDone, kFailed };

  Result<HandshakeStep, HandshakeFailure> on_hello(std::string_view raw, const v1::Hello& hello);
  Result<HandshakeStep, HandshakeFailure> on_proof(const std::string& mac);
  HandshakeFailure fail(HandshakeError e, int reject_reason);
  std::string transcript(Role prover) const;
  void check_invariants() const;

  Role role_;
  std::string secret_;
  NodeIdentity self_;
  HandshakeOptions options_;
  State state_ = State::kAwaitHello;
  std::string my_hello_;    // serialised HandshakeMessage with our Hello, exactly as sent
  std::string peer_hello_;  // the peer's Hello frame payload, exactly as received
  NodeIdentity peer_;
  ProtocolRange peer_range_;
  std::string peer_build_;
  std::uint32_t version_ = 0;  // 0 until done(); stays 0 when the ranges share no version
};

}  // namespace minotaur::transport
