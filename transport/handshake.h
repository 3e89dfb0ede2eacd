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

namespace minotaur::transport::v1 {
class Hello;
}  // namespace minotaur::transport::v1

namespace minotaur::transport {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::uint32_t kMinProtocolVersion = 1;
inline constexpr std::size_t kNonceBytes = 32;
inline constexpr std::size_t kMaxSecretBytes = 4096;

using Nonce = std::array<unsigned char, kNonceBytes>;

enum class Role { kDialer, kAcceptor };

enum class HandshakeError {
  kMalformed,          // a frame was not a valid handshake message, or a Hello field is invalid
  kUnexpectedMessage,  // a valid message at the wrong step
  kVersionMismatch,    // no protocol version in common
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
  Handshake(Role role, std::string_view secret, NodeIdentity self, const Nonce& nonce);

  // The Hello to send as soon as the connection is open (both roles).
  std::string hello() const { return my_hello_; }

  // Feeds one received frame payload. An error ends the handshake; further calls are bugs.
  Result<HandshakeStep, HandshakeFailure> on_frame(std::string_view payload);

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }
  Role role() const { return role_; }
  // The authenticated peer; only when done().
  const NodeIdentity& peer() const;
  // The agreed protocol version; only when done().
  std::uint32_t version() const;

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
  State state_ = State::kAwaitHello;
  std::string my_hello_;    // serialised HandshakeMessage with our Hello, exactly as sent
  std::string peer_hello_;  // the peer's Hello frame payload, exactly as received
  NodeIdentity peer_;
  std::uint32_t version_ = 0;
};

}  // namespace minotaur::transport
