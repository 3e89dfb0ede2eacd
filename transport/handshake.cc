#include "transport/handshake.h"

#include <algorithm>
#include <utility>

#include "base/assert.h"
#include "transport/frame.h"
#include "transport/hmac.h"
#include "transport/wire.pb.h"

namespace minotaur::transport {

namespace {

void append_u32_be(std::string& out, std::size_t n) {
  MINOTAUR_ASSERT(n <= 0xffffffffu);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((n >> shift) & 0xffu));
  }
}

std::string serialize(const v1::HandshakeMessage& m) {
  std::string out;
  const bool ok = m.SerializeToString(&out);
  MINOTAUR_ASSERT(ok);
  return out;
}

std::string reject_frame(int reason) {
  v1::HandshakeMessage m;
  m.mutable_reject()->set_reason(static_cast<v1::Reject::Reason>(reason));
  return serialize(m);
}

bool hello_well_formed(const v1::Hello& h) {
  return valid_node_name(h.node_name()) && h.incarnation() != 0 && valid_address(h.address()) &&
         h.nonce().size() == kNonceBytes &&
         peer_protocol_range(h.min_protocol_version(), h.protocol_version()).has_value() &&
         valid_build_text(h.build());
}

}  // namespace

bool valid_build_text(std::string_view build) {
  if (build.size() > kMaxBuildBytes) return false;
  return std::all_of(build.begin(), build.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

const char* to_string(HandshakeError e) {
  switch (e) {
    case HandshakeError::kMalformed:
      return "malformed handshake message";
    case HandshakeError::kUnexpectedMessage:
      return "handshake message out of order";
    case HandshakeError::kVersionMismatch:
      return "no protocol version in common";
    case HandshakeError::kBadProof:
      return "peer failed to prove the cluster secret (secrets differ)";
    case HandshakeError::kSelfConnect:
      return "peer has this node's own name";
    case HandshakeError::kRejectedByPeer:
      return "peer rejected the handshake";
  }
  return "unknown handshake error";
}

bool handshake_message_well_formed(std::string_view payload) {
  v1::HandshakeMessage m;
  if (!m.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return false;
  switch (m.body_case()) {
    case v1::HandshakeMessage::kHello:
      return hello_well_formed(m.hello());
    case v1::HandshakeMessage::kProof:
      return m.proof().mac().size() == kHmacBytes;
    case v1::HandshakeMessage::kReject:
      return true;
    case v1::HandshakeMessage::BODY_NOT_SET:
      return false;
  }
  return false;
}

Handshake::Handshake(Role role, std::string_view secret, NodeIdentity self, const Nonce& nonce,
                     HandshakeOptions options)
    : role_(role), secret_(secret), self_(std::move(self)), options_(std::move(options)) {
  MINOTAUR_ASSERT(!secret_.empty());
  MINOTAUR_ASSERT(secret_.size() <= kMaxSecretBytes);
  MINOTAUR_ASSERT(valid_identity(self_));
  MINOTAUR_ASSERT(valid_protocol_range(options_.range));
  MINOTAUR_ASSERT(valid_build_text(options_.build));
  v1::HandshakeMessage m;
  v1::Hello* h = m.mutable_hello();
  h->set_protocol_version(options_.range.max);
  h->set_min_protocol_version(options_.range.min);
  if (!options_.build.empty()) h->set_build(options_.build);
  h->set_node_name(self_.name);
  h->set_incarnation(self_.incarnation);
  h->set_address(self_.address);
  h->set_nonce(nonce.data(), nonce.size());
  my_hello_ = serialize(m);
  check_invariants();
}

const NodeIdentity& Handshake::peer() const {
  MINOTAUR_ASSERT(done());
  return peer_;
}

std::uint32_t Handshake::version() const {
  MINOTAUR_ASSERT(done());
  return version_;
}

const ProtocolRange& Handshake::peer_range() const {
  MINOTAUR_ASSERT(done());
  return peer_range_;
}

const std::string& Handshake::peer_build() const {
  MINOTAUR_ASSERT(done());
  return peer_build_;
}

HandshakeFailure Handshake::fail(HandshakeError e, int reject_reason) {
  state_ = State::kFailed;
  HandshakeFailure f{e, {}, 0, false, {}, {}, {}};
  if (reject_reason != v1::Reject::REASON_UNSPECIFIED)
    f.send.push_back(reject_frame(reject_reason));
  return f;
}

Result<HandshakeStep, HandshakeFailure> Handshake::on_frame(std::string_view payload) {
  MINOTAUR_ASSERT(state_ == State::kAwaitHello || state_ == State::kAwaitProof);
  v1::HandshakeMessage m;
  if (payload.size() > kHandshakeMaxFrameBytes ||
      !m.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return err(fail(HandshakeError::kMalformed, v1::Reject::REASON_MALFORMED));
  }
  Result<HandshakeStep, HandshakeFailure> r =
      err(HandshakeFailure{HandshakeError::kMalformed, {}, 0, false, {}, {}, {}});
  switch (m.body_case()) {
    case v1::HandshakeMessage::kHello:
      if (state_ == State::kAwaitHello) {
        r = on_hello(payload, m.hello());
      } else {
        r = err(fail(HandshakeError::kUnexpectedMessage, v1::Reject::REASON_MALFORMED));
      }
      break;
    case v1::HandshakeMessage::kProof:
      if (state_ == State::kAwaitProof) {
        r = on_proof(m.proof().mac());
      } else {
        r = err(fail(HandshakeError::kUnexpectedMessage, v1::Reject::REASON_MALFORMED));
      }
      break;
    case v1::HandshakeMessage::kReject: {
      HandshakeFailure f = fail(HandshakeError::kRejectedByPeer, v1::Reject::REASON_UNSPECIFIED);
      f.peer_reason = static_cast<int>(m.reject().reason());
      r = err(std::move(f));
      break;
    }
    case v1::HandshakeMessage::BODY_NOT_SET:
      r = err(fail(HandshakeError::kMalformed, v1::Reject::REASON_MALFORMED));
      break;
  }
  check_invariants();
  return r;
}

Result<HandshakeStep, HandshakeFailure> Handshake::on_hello(std::string_view raw,
                                                            const v1::Hello& h) {
  if (!hello_well_formed(h)) {
    return err(fail(HandshakeError::kMalformed, v1::Reject::REASON_MALFORMED));
  }
  if (h.node_name() == self_.name) {
    HandshakeFailure f = fail(HandshakeError::kSelfConnect, v1::Reject::REASON_SELF_CONNECT);
    f.same_process = h.incarnation() == self_.incarnation;
    return err(std::move(f));
  }
  peer_hello_ = std::string(raw);
  peer_ = NodeIdentity{h.node_name(), h.incarnation(), h.address()};
  // Well formed, so the range is there. Without a version in common the proofs still go on:
  // the refusal comes once the peer is authenticated (on_proof).
  peer_range_ = *peer_protocol_range(h.min_protocol_version(), h.protocol_version());
  peer_build_ = h.build();
  const auto common = common_protocol_range(options_.range, peer_range_);
  version_ = common ? common->max : 0;
  state_ = State::kAwaitProof;
  HandshakeStep step;
  if (role_ == Role::kDialer) {
    const Mac mac = hmac_sha256(secret_, transcript(Role::kDialer));
    v1::HandshakeMessage proof;
    proof.mutable_proof()->set_mac(mac.data(), mac.size());
    step.send.push_back(serialize(proof));
  }
  return step;
}

Result<HandshakeStep, HandshakeFailure> Handshake::on_proof(const std::string& mac) {
  const Role prover = role_ == Role::kDialer ? Role::kAcceptor : Role::kDialer;
  const Mac expected = hmac_sha256(secret_, transcript(prover));
  const std::string_view expected_view(reinterpret_cast<const char*>(expected.data()),
                                       expected.size());
  if (!constant_time_equal(mac, expected_view)) {
    return err(fail(HandshakeError::kBadProof, v1::Reject::REASON_BAD_PROOF));
  }
  HandshakeStep step;
  if (role_ == Role::kAcceptor) {
    const Mac mine = hmac_sha256(secret_, transcript(Role::kAcceptor));
    v1::HandshakeMessage proof;
    proof.mutable_proof()->set_mac(mine.data(), mine.size());
    step.send.push_back(serialize(proof));
  }
  if (version_ == 0) {
    // No version in common. The acceptor's Proof goes first, so that the dialer authenticates
    // this refusal too before it reports it.
    HandshakeFailure f = fail(HandshakeError::kVersionMismatch, v1::Reject::REASON_VERSION);
    f.send.insert(f.send.begin(), step.send.begin(), step.send.end());
    f.peer = peer_;
    f.peer_range = peer_range_;
    f.peer_build = peer_build_;
    return err(std::move(f));
  }
  state_ = State::kDone;
  step.done = true;
  return step;
}

std::string Handshake::transcript(Role prover) const {
  const std::string& dialer_hello = role_ == Role::kDialer ? my_hello_ : peer_hello_;
  const std::string& acceptor_hello = role_ == Role::kDialer ? peer_hello_ : my_hello_;
  std::string t =
      prover == Role::kDialer ? "minotaur/handshake/v1/dialer" : "minotaur/handshake/v1/acceptor";
  append_u32_be(t, dialer_hello.size());
  t += dialer_hello;
  append_u32_be(t, acceptor_hello.size());
  t += acceptor_hello;
  return t;
}

void Handshake::check_invariants() const {
  MINOTAUR_ASSERT(!my_hello_.empty());
  MINOTAUR_ASSERT(state_ == State::kAwaitHello || state_ == State::kFailed || !peer_hello_.empty());
  MINOTAUR_ASSERT(state_ != State::kDone || (valid_identity(peer_) && version_ != 0));
  MINOTAUR_ASSERT(state_ != State::kDone || peer_.name != self_.name);
}

}  // namespace minotaur::transport
