#include "transport/handshake.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "transport/wire.pb.h"

namespace minotaur::transport {
namespace {

Nonce nonce(unsigned char fill) {
  Nonce n{};
  n.fill(fill);
  n[0] = static_cast<unsigned char>(fill + 1);
  return n;
}

NodeIdentity id(const std::string& name, std::uint64_t inc) {
  return NodeIdentity{name, inc, "127.0.0.1:" + std::to_string(7000 + inc % 1000)};
}

struct Outcome {
  bool dialer_done = false;
  bool acceptor_done = false;
  std::optional<HandshakeFailure> dialer_failure;
  std::optional<HandshakeFailure> acceptor_failure;
  std::vector<std::string> wire;  // every payload, both directions
};

// Shuttles frames between two handshakes until both stop; one frame per side per turn.
Outcome run(Handshake& d, Handshake& a) {
  Outcome o;
  std::deque<std::string> to_a{d.hello()};
  std::deque<std::string> to_d{a.hello()};
  o.wire = {d.hello(), a.hello()};
  auto step = [&](Handshake& h, std::deque<std::string>& in, std::deque<std::string>& out,
                  bool& done, std::optional<HandshakeFailure>& failure) {
    if (in.empty() || done || failure) return false;
    auto r = h.on_frame(in.front());
    in.pop_front();
    const auto& send = r.ok() ? r.value().send : r.error().send;
    for (const auto& s : send) {
      out.push_back(s);
      o.wire.push_back(s);
    }
    if (r.ok()) {
      done = r.value().done;
    } else {
      failure = r.error();
    }
    return true;
  };
  for (int i = 0; i < 20; ++i) {
    const bool x = step(d, to_d, to_a, o.dialer_done, o.dialer_failure);
    const bool y = step(a, to_a, to_d, o.acceptor_done, o.acceptor_failure);
    if (!x && !y) break;
  }
  return o;
}

// Strong, as a node requires (transport/cluster_secret.h); the wrong ones are strong too, so
// that only the mismatch is tested.
const std::string kSecret = "C2cSxc234vq5XKV36/QDbT78oBRlLAUuHbLszwNJEdI=";
const std::string kOtherSecret = "MhxUlDGExej2wVJ1NId0KKyAEZgwc2rff/eQSf5WOVw=";

TEST(Handshake, BothSidesAuthenticateAndLearnEachOther) {
  Handshake d(Role::kDialer, kSecret, id("alpha", 11), nonce(1));
  Handshake a(Role::kAcceptor, kSecret, id("beta", 22), nonce(2));
  Outcome o = run(d, a);
  ASSERT_TRUE(o.dialer_done);
  ASSERT_TRUE(o.acceptor_done);
  EXPECT_EQ(d.peer().name, "beta");
  EXPECT_EQ(d.peer().incarnation, 22u);
  EXPECT_EQ(a.peer().name, "alpha");
  EXPECT_EQ(a.peer().address, "127.0.0.1:7011");
  EXPECT_EQ(d.version(), kProtocolVersion);
  EXPECT_EQ(a.version(), kProtocolVersion);
  EXPECT_EQ(o.wire.size(), 4u);  // two hellos, two proofs
  for (const auto& w : o.wire) {
    EXPECT_EQ(w.find(kSecret), std::string::npos) << "the secret went on the wire";
    EXPECT_TRUE(handshake_message_well_formed(w));
  }
}

TEST(Handshake, WrongSecretIsRefusedAndTheAcceptorRevealsNoProof) {
  Handshake d(Role::kDialer, kOtherSecret, id("intruder", 1), nonce(1));
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
  Outcome o = run(d, a);
  EXPECT_FALSE(o.acceptor_done);
  EXPECT_FALSE(o.dialer_done);
  ASSERT_TRUE(o.acceptor_failure.has_value());
  EXPECT_EQ(o.acceptor_failure->error, HandshakeError::kBadProof);
  ASSERT_TRUE(o.dialer_failure.has_value());
  EXPECT_EQ(o.dialer_failure->error, HandshakeError::kRejectedByPeer);
  EXPECT_EQ(o.dialer_failure->peer_reason, v1::Reject::REASON_BAD_PROOF);
  for (const auto& w : o.wire) {
    v1::HandshakeMessage m;
    ASSERT_TRUE(m.ParseFromString(w));
    if (m.has_proof()) {
      EXPECT_EQ(w, o.wire[2]) << "only the dialer's proof may be on the wire";
    }
  }
}

TEST(Handshake, AcceptorWithWrongSecretIsRefusedByTheDialer) {
  Handshake d(Role::kDialer, kSecret, id("alpha", 1), nonce(1));
  Handshake a(Role::kAcceptor, kOtherSecret, id("beta", 2), nonce(2));
  // The acceptor cannot verify the dialer's proof, so it never sends its own; a forged acceptor
  // proof is refused by the dialer.
  ASSERT_TRUE(a.on_frame(d.hello()).ok());
  auto r = d.on_frame(a.hello());
  ASSERT_TRUE(r.ok());
  v1::HandshakeMessage forged;
  forged.mutable_proof()->set_mac(std::string(32, '\x42'));
  auto f = d.on_frame(forged.SerializeAsString());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().error, HandshakeError::kBadProof);
  EXPECT_EQ(f.error().send.size(), 1u);  // a Reject
  EXPECT_TRUE(d.failed());
}

TEST(Handshake, ProofFromAnotherConnectionIsRefused) {
  // An eavesdropper records a whole handshake and replays the dialer's side to a new connection.
  Handshake d1(Role::kDialer, kSecret, id("alpha", 1), nonce(1));
  Handshake a1(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
  Outcome recorded = run(d1, a1);
  ASSERT_TRUE(recorded.acceptor_done);
  const std::string& replayed_hello = recorded.wire.at(0);
  const std::string& replayed_proof = recorded.wire.at(2);
  Handshake a2(Role::kAcceptor, kSecret, id("beta", 2), nonce(3));  // a fresh nonce
  ASSERT_TRUE(a2.on_frame(replayed_hello).ok());
  auto r = a2.on_frame(replayed_proof);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error, HandshakeError::kBadProof);
}

TEST(Handshake, ReflectedHelloIsASelfConnect) {
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
  auto r = a.on_frame(a.hello());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error, HandshakeError::kSelfConnect);
  EXPECT_TRUE(r.error().same_process);
}

TEST(Handshake, SameNameOtherIncarnationIsRefused) {
  Handshake d(Role::kDialer, kSecret, id("beta", 1), nonce(1));
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
  auto r = a.on_frame(d.hello());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error, HandshakeError::kSelfConnect);
  EXPECT_FALSE(r.error().same_process);
}

TEST(Handshake, TamperedHelloBreaksTheProof) {
  Handshake d(Role::kDialer, kSecret, id("alpha", 1), nonce(1));
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
  v1::HandshakeMessage m;
  ASSERT_TRUE(m.ParseFromString(d.hello()));
  m.mutable_hello()->set_incarnation(99);  // an on-path attacker rewrites the hello
  ASSERT_TRUE(a.on_frame(m.SerializeAsString()).ok());
  auto proof = d.on_frame(a.hello());
  ASSERT_TRUE(proof.ok());
  auto r = a.on_frame(proof.value().send.at(0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error, HandshakeError::kBadProof);
}

TEST(Handshake, GarbageAndOutOfOrderMessagesAreRefused) {
  {
    Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
    auto r = a.on_frame("\xff\xff\xff garbage");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().error, HandshakeError::kMalformed);
  }
  {
    Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
    v1::HandshakeMessage m;
    m.mutable_proof()->set_mac(std::string(32, 'x'));
    auto r = a.on_frame(m.SerializeAsString());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().error, HandshakeError::kUnexpectedMessage);
  }
  {
    Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
    auto r = a.on_frame("");  // an empty message has no body
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().error, HandshakeError::kMalformed);
  }
}

TEST(Handshake, InvalidHelloFieldsAreRefused) {
  Handshake d(Role::kDialer, kSecret, id("alpha", 1), nonce(1));
  v1::HandshakeMessage good;
  ASSERT_TRUE(good.ParseFromString(d.hello()));
  std::vector<v1::HandshakeMessage> bad(5, good);
  bad[0].mutable_hello()->set_node_name("bad name\n");
  bad[1].mutable_hello()->set_incarnation(0);
  bad[2].mutable_hello()->set_nonce("short");
  bad[3].mutable_hello()->set_address("");
  bad[4].mutable_hello()->set_node_name(std::string(kMaxNodeNameBytes + 1, 'n'));
  for (const auto& m : bad) {
    Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
    auto r = a.on_frame(m.SerializeAsString());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().error, HandshakeError::kMalformed);
    EXPECT_FALSE(handshake_message_well_formed(m.SerializeAsString()));
  }
}

TEST(Handshake, NoCommonVersionIsRefused) {
  Handshake d(Role::kDialer, kSecret, id("alpha", 1), nonce(1));
  v1::HandshakeMessage m;
  ASSERT_TRUE(m.ParseFromString(d.hello()));
  m.mutable_hello()->set_protocol_version(kProtocolVersion + 5);
  m.mutable_hello()->set_min_protocol_version(kProtocolVersion + 1);
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
  auto r = a.on_frame(m.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().error, HandshakeError::kVersionMismatch);
  ASSERT_EQ(r.error().send.size(), 1u);
  v1::HandshakeMessage reject;
  ASSERT_TRUE(reject.ParseFromString(r.error().send[0]));
  EXPECT_EQ(reject.reject().reason(), v1::Reject::REASON_VERSION);
}

TEST(Handshake, NewerPeerAgreesOnOurVersion) {
  Handshake d(Role::kDialer, kSecret, id("alpha", 1), nonce(1));
  v1::HandshakeMessage m;
  ASSERT_TRUE(m.ParseFromString(d.hello()));
  m.mutable_hello()->set_protocol_version(kProtocolVersion + 3);
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
  EXPECT_TRUE(a.on_frame(m.SerializeAsString()).ok());
}

}  // namespace
}  // namespace minotaur::transport
