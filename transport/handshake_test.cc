#include "transport/handshake.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "transport/hmac.h"
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
  std::vector<v1::HandshakeMessage> bad(9, good);
  bad[0].mutable_hello()->set_node_name("bad name\n");
  bad[1].mutable_hello()->set_incarnation(0);
  bad[2].mutable_hello()->set_nonce("short");
  bad[3].mutable_hello()->set_address("");
  bad[4].mutable_hello()->set_node_name(std::string(kMaxNodeNameBytes + 1, 'n'));
  // A range that contradicts itself, or a build that is not printable or too long: refused as
  // malformed, never an assertion.
  bad[5].mutable_hello()->set_min_protocol_version(3);
  bad[5].mutable_hello()->set_protocol_version(2);
  bad[6].mutable_hello()->set_min_protocol_version(4);
  bad[6].mutable_hello()->set_protocol_version(0);
  bad[7].mutable_hello()->set_build("0.1.0\n(forged log line)");
  bad[8].mutable_hello()->set_build(std::string(kMaxBuildBytes + 1, 'b'));
  for (const auto& m : bad) {
    Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
    auto r = a.on_frame(m.SerializeAsString());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().error, HandshakeError::kMalformed);
    EXPECT_FALSE(handshake_message_well_formed(m.SerializeAsString()));
  }
}

HandshakeOptions speaking(ProtocolRange range, std::string build = "") {
  return HandshakeOptions{range, std::move(build)};
}

// The dialer's proof for these two Hellos exactly as sent, computed as transport/handshake.cc
// does, for a Hello no Handshake of this build would send.
std::string dialer_proof(const std::string& dialer_hello, const std::string& acceptor_hello) {
  std::string t = "minotaur/handshake/v1/dialer";
  for (const std::string* h : {&dialer_hello, &acceptor_hello}) {
    for (int shift = 24; shift >= 0; shift -= 8) t.push_back(static_cast<char>(h->size() >> shift));
    t += *h;
  }
  const Mac mac = hmac_sha256(kSecret, t);
  v1::HandshakeMessage m;
  m.mutable_proof()->set_mac(mac.data(), mac.size());
  return m.SerializeAsString();
}

std::vector<v1::HandshakeMessage> decode_all(const std::vector<std::string>& frames) {
  std::vector<v1::HandshakeMessage> out(frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_TRUE(out[i].ParseFromString(frames[i]));
  return out;
}

TEST(Handshake, DisjointRangesAreRefusedOnBothSidesOnceBothAreAuthenticated) {
  Handshake d(Role::kDialer, kSecret, id("alpha", 1), nonce(1), speaking({2, 3}, "0.2.0 (x)"));
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2), speaking({1, 1}, "0.1.0 (y)"));
  const Outcome o = run(d, a);
  ASSERT_TRUE(o.dialer_failure && o.acceptor_failure);
  EXPECT_FALSE(o.dialer_done || o.acceptor_done);
  // Each side names the other, its range and its build, as signed in the transcript.
  EXPECT_EQ(o.acceptor_failure->error, HandshakeError::kVersionMismatch);
  EXPECT_EQ(o.acceptor_failure->peer.name, "alpha");
  EXPECT_EQ(o.acceptor_failure->peer_range, (ProtocolRange{2, 3}));
  EXPECT_EQ(o.acceptor_failure->peer_build, "0.2.0 (x)");
  EXPECT_EQ(o.dialer_failure->error, HandshakeError::kVersionMismatch);
  EXPECT_EQ(o.dialer_failure->peer.name, "beta");
  EXPECT_EQ(o.dialer_failure->peer_range, (ProtocolRange{1, 1}));
  EXPECT_EQ(o.dialer_failure->peer_build, "0.1.0 (y)");
  // The acceptor proves itself before it refuses, so the dialer refuses an authenticated peer.
  const auto sent = decode_all(o.acceptor_failure->send);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].has_proof());
  EXPECT_EQ(sent[1].reject().reason(), v1::Reject::REASON_VERSION);
}

TEST(Handshake, AStrangerWithADisjointRangeFailsOnTheSecretNotTheVersion) {
  // Without the secret nobody learns or triggers a version refusal (a joining node exits on
  // one): the proof fails first.
  Handshake d(Role::kDialer, kOtherSecret, id("alpha", 1), nonce(1), speaking({7, 9}));
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2));
  const Outcome o = run(d, a);
  ASSERT_TRUE(o.acceptor_failure);
  EXPECT_EQ(o.acceptor_failure->error, HandshakeError::kBadProof);
  ASSERT_TRUE(o.dialer_failure);
  EXPECT_EQ(o.dialer_failure->error, HandshakeError::kRejectedByPeer);
}

TEST(Handshake, OverlappingRangesTalkAtTheHighestVersionBothSpeak) {
  Handshake d(Role::kDialer, kSecret, id("alpha", 1), nonce(1), speaking({1, 3}, "new"));
  Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2), speaking({2, 5}, "newer"));
  const Outcome o = run(d, a);
  ASSERT_TRUE(o.dialer_done && o.acceptor_done);
  EXPECT_EQ(d.version(), 3u);
  EXPECT_EQ(a.version(), 3u);
  EXPECT_EQ(d.peer_range(), (ProtocolRange{2, 5}));
  EXPECT_EQ(d.peer_build(), "newer");
  EXPECT_EQ(a.peer_range(), (ProtocolRange{1, 3}));
  EXPECT_EQ(a.peer_build(), "new");
}

TEST(Handshake, AHelloWithoutARangeSpeaksProtocolOne) {
  // A build from before ranges and builds were sent: both range fields 0, no build.
  Handshake probe(Role::kDialer, kSecret, id("alpha", 1), nonce(1));
  v1::HandshakeMessage old;
  ASSERT_TRUE(old.ParseFromString(probe.hello()));
  old.mutable_hello()->clear_protocol_version();
  old.mutable_hello()->clear_min_protocol_version();
  const std::string old_hello = old.SerializeAsString();
  for (const ProtocolRange ours : {ProtocolRange{1, 2}, ProtocolRange{2, 2}}) {
    Handshake a(Role::kAcceptor, kSecret, id("beta", 2), nonce(2), speaking(ours));
    ASSERT_TRUE(a.on_frame(old_hello).ok());
    auto r = a.on_frame(dialer_proof(old_hello, a.hello()));
    if (ours.min == 1) {
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(a.version(), 1u);
      EXPECT_EQ(a.peer_range(), (ProtocolRange{1, 1}));
      EXPECT_EQ(a.peer_build(), "");
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().error, HandshakeError::kVersionMismatch);
      EXPECT_EQ(r.error().peer_range, (ProtocolRange{1, 1}));
    }
  }
}

TEST(ProtocolRange, APeerRangeReadsOlderHellos) {
  EXPECT_EQ(peer_protocol_range(0, 0), (ProtocolRange{1, 1}));
  EXPECT_EQ(peer_protocol_range(0, 3), (ProtocolRange{1, 3}));
  EXPECT_EQ(peer_protocol_range(2, 3), (ProtocolRange{2, 3}));
  EXPECT_EQ(peer_protocol_range(4, 3), std::nullopt);
  EXPECT_EQ(peer_protocol_range(1, 0), std::nullopt);
}

TEST(ProtocolRange, CommonRange) {
  EXPECT_EQ(common_protocol_range({1, 3}, {2, 5}), (ProtocolRange{2, 3}));
  EXPECT_EQ(common_protocol_range({1, 1}, {1, 1}), (ProtocolRange{1, 1}));
  EXPECT_EQ(common_protocol_range({1, 1}, {2, 2}), std::nullopt);
  EXPECT_EQ(to_string(ProtocolRange{1, 1}), "1");
  EXPECT_EQ(to_string(ProtocolRange{2, 4}), "2-4");
}

TEST(ProtocolRange, ParsesTheTestingOverride) {
  EXPECT_EQ(parse_protocol_range("2-3").value(), (ProtocolRange{2, 3}));
  EXPECT_EQ(parse_protocol_range("2").value(), (ProtocolRange{2, 2}));
  for (const char* bad :
       {"", "0-1", "3-2", "-1", "1-", "a-b", "1-2-3", " 1-2", "1 - 2", "99999999999-1"}) {
    auto r = parse_protocol_range(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().find("MIN-MAX"), std::string::npos);
  }
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
