// The Asio transport inside one process, on 127.0.0.1 with ports picked by the kernel.
#include "transport/transport.h"

#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "transport/frame.h"
#include "transport/handshake.h"

namespace minotaur::transport {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Strong, as a node requires (transport/cluster_secret.h).
const std::string kSecret = "U3rHzCoWAAzaxHWNEb7HrAJylzYU1mRNtYO+edl9ec8=";

struct Received {
  std::string from;
  v1::Channel channel;
  std::string payload;
};

// One Transport plus everything its handlers reported.
struct Node {
  Node(asio::io_context& io, const std::string& name, std::uint64_t incarnation,
       const std::string& secret = kSecret, std::uint16_t port = 0,
       std::function<void(TransportConfig&)> tweak = {}) {
    TransportConfig c;
    c.self = NodeIdentity{name, incarnation, ""};
    c.listen_address = "127.0.0.1:" + std::to_string(port);
    c.secret = secret;
    c.handshake_timeout_ms = 500;
    c.reconnect_initial_ms = 20;
    c.reconnect_max_ms = 200;
    if (tweak) tweak(c);
    TransportHandlers h;
    h.on_peer_connected = [this](const NodeIdentity& p) { connected.push_back(p); };
    h.on_peer_disconnected = [this](const NodeIdentity& p) { disconnected.push_back(p); };
    h.on_message = [this](const NodeIdentity& p, v1::Channel ch, std::string_view payload) {
      received.push_back(Received{p.name, ch, std::string(payload)});
    };
    h.on_dialed_self = [this](const std::string& a) { dialed_self.push_back(a); };
    h.on_protocol_refused = [this](const ProtocolRefusal& r) { refused.push_back(r); };
    transport = std::make_unique<Transport>(io, std::move(c), std::move(h));
    auto r = transport->start();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  }

  std::string address() const { return transport->self().address; }

  std::unique_ptr<Transport> transport;
  std::vector<NodeIdentity> connected;
  std::vector<NodeIdentity> disconnected;
  std::vector<Received> received;
  std::vector<std::string> dialed_self;
  std::vector<ProtocolRefusal> refused;
};

// Runs the io_context until pred() holds or timeout_ms of wall time passed.
bool run_until(asio::io_context& io, const std::function<bool()>& pred, int timeout_ms = 5000) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return true;
}

void run_for(asio::io_context& io, int ms) {
  run_until(
      io, [] { return false; }, ms);
}

bool got(const Node& n, const std::string& from, const std::string& payload) {
  for (const auto& r : n.received) {
    if (r.from == from && r.payload == payload) return true;
  }
  return false;
}

TEST(Transport, NodesWithoutACommonProtocolVersionBothReportTheRefusal) {
  asio::io_context io;
  const auto speaks = [](ProtocolRange r, std::string build) {
    return [r, build](TransportConfig& c) {
      c.protocol_range = r;
      c.build = build;
    };
  };
  Node a(io, "alpha", 1, kSecret, 0, speaks({1, 1}, "0.1.0 (commit a)"));
  Node b(io, "beta", 2, kSecret, 0, speaks({2, 3}, "0.2.0 (commit b)"));
  ASSERT_TRUE(b.transport->connect(a.address()).ok());
  ASSERT_TRUE(run_until(io, [&] { return !a.refused.empty() && !b.refused.empty(); }));
  EXPECT_EQ(b.refused[0].peer.name, "alpha");
  EXPECT_EQ(b.refused[0].peer_range, (ProtocolRange{1, 1}));
  EXPECT_EQ(b.refused[0].peer_build, "0.1.0 (commit a)");
  EXPECT_TRUE(b.refused[0].we_dialed);
  EXPECT_EQ(a.refused[0].peer.name, "beta");
  EXPECT_EQ(a.refused[0].peer_range, (ProtocolRange{2, 3}));
  EXPECT_FALSE(a.refused[0].we_dialed);
  EXPECT_FALSE(a.transport->connected("beta") || b.transport->connected("alpha"));
  EXPECT_TRUE(a.connected.empty() && b.connected.empty());
  EXPECT_GE(a.transport->counters().protocol_refusals, 1u);
}

TEST(Transport, TwoNodesAuthenticateAndExchangeMessages) {
  asio::io_context io;
  Node a(io, "alpha", 1);
  Node b(io, "beta", 2);
  ASSERT_TRUE(b.transport->connect(a.address()).ok());
  ASSERT_TRUE(run_until(
      io, [&] { return a.transport->connected("beta") && b.transport->connected("alpha"); }));
  ASSERT_EQ(a.connected.size(), 1u);
  EXPECT_EQ(a.connected[0].name, "beta");
  EXPECT_EQ(a.connected[0].incarnation, 2u);
  EXPECT_EQ(a.connected[0].address, b.address());
  EXPECT_EQ(b.connected.at(0).name, "alpha");

  ASSERT_TRUE(a.transport->send("beta", v1::CHANNEL_MEMBERSHIP, "ping").ok());
  ASSERT_TRUE(b.transport->send("alpha", v1::CHANNEL_MEMBERSHIP, "pong").ok());
  const std::string big(100000, 'x');
  ASSERT_TRUE(a.transport->send("beta", v1::CHANNEL_MEMBERSHIP, big).ok());
  ASSERT_TRUE(run_until(io, [&] { return got(b, "alpha", big) && got(a, "beta", "pong"); }));
  EXPECT_EQ(b.received.at(0).payload, "ping");  // in order
  EXPECT_EQ(b.received.at(0).channel, v1::CHANNEL_MEMBERSHIP);
  EXPECT_EQ(a.transport->counters().messages_sent, 2u);
  EXPECT_EQ(b.transport->counters().messages_received, 2u);
  EXPECT_GT(a.transport->counters().bytes_sent, big.size());
  EXPECT_EQ(a.transport->counters().handshakes_ok, 1u);
  EXPECT_EQ(b.transport->counters().dial_attempts, 1u);
}

TEST(Transport, ThreeNodesDialingEachOtherKeepOneConnectionPerPair) {
  asio::io_context io;
  Node a(io, "a", 1);
  Node b(io, "b", 2);
  Node c(io, "c", 3);
  std::vector<Node*> all = {&a, &b, &c};
  for (Node* x : all) {
    for (Node* y : all) {
      if (x != y) {
        ASSERT_TRUE(x->transport->connect(y->address()).ok());
      }
    }
  }
  auto full = [&] {
    for (Node* x : all) {
      if (x->transport->peers().size() != 2) return false;
    }
    return true;
  };
  ASSERT_TRUE(run_until(io, full));
  run_for(io, 300);  // let the duplicate connections settle
  ASSERT_TRUE(full());
  for (Node* x : all) {
    const auto& k = x->transport->counters();
    EXPECT_EQ(k.peers_connected - k.peers_disconnected, 2u);
    for (Node* y : all) {
      if (x == y) continue;
      const std::string msg = x->transport->self().name + "->" + y->transport->self().name;
      ASSERT_TRUE(x->transport->send(y->transport->self().name, v1::CHANNEL_MEMBERSHIP, msg).ok());
    }
  }
  ASSERT_TRUE(run_until(io, [&] {
    return a.received.size() == 2 && b.received.size() == 2 && c.received.size() == 2;
  }));
  EXPECT_TRUE(got(a, "c", "c->a"));
  EXPECT_TRUE(got(c, "b", "b->c"));
}

TEST(Transport, PeerWithTheWrongSecretIsRefusedBothWays) {
  asio::io_context io;
  Node a(io, "alpha", 1);
  Node bad(io, "mallory", 2,
           "UAJaW5VuIVfxmk6GI+kCZrgC2txxS6G4R5X2MiRKcu0=");  // strong, but another
  ASSERT_TRUE(bad.transport->connect(a.address()).ok());
  ASSERT_TRUE(a.transport->connect(bad.address()).ok());
  ASSERT_TRUE(run_until(io, [&] {
    return a.transport->counters().handshake_failures >= 3 &&
           bad.transport->counters().dial_failures >= 3;
  }));
  EXPECT_TRUE(a.connected.empty());
  EXPECT_TRUE(bad.connected.empty());
  EXPECT_FALSE(a.transport->connected("mallory"));
  EXPECT_EQ(bad.transport->send("alpha", v1::CHANNEL_MEMBERSHIP, "let me in").error(),
            SendError::kNotConnected);
  EXPECT_TRUE(a.received.empty());
  EXPECT_EQ(a.transport->counters().messages_received, 0u);
}

TEST(Transport, DialingItselfStops) {
  asio::io_context io;
  Node a(io, "alpha", 1);
  ASSERT_TRUE(a.transport->connect(a.address()).ok());
  ASSERT_TRUE(run_until(io, [&] { return !a.dialed_self.empty(); }));
  EXPECT_EQ(a.dialed_self[0], a.address());
  const auto attempts = a.transport->counters().dial_attempts;
  run_for(io, 200);
  EXPECT_EQ(a.transport->counters().dial_attempts, attempts);
  EXPECT_TRUE(a.connected.empty());
}

// A raw TCP client on its own io_context (blocking calls only; the node's context runs between).
struct RawClient {
  explicit RawClient(const std::string& address) : socket(io) {
    const auto colon = address.rfind(':');
    socket.connect(tcp::endpoint(asio::ip::make_address(address.substr(0, colon)),
                                 static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)))));
  }
  void write(const std::string& bytes) { asio::write(socket, asio::buffer(bytes)); }
  // True when the server closed the connection (EOF or reset); drains what it sent before.
  bool closed_by_peer() {
    socket.non_blocking(true);
    char buf[4096];
    for (;;) {
      boost::system::error_code ec;
      const std::size_t n = socket.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) return false;
      if (ec) return true;
      inbox.append(buf, n);
    }
  }
  asio::io_context io;
  tcp::socket socket;
  std::string inbox;
};

TEST(Transport, GarbageTruncatedAndOversizedFramesAreDroppedAndTheListenerKeepsServing) {
  asio::io_context io;
  Node a(io, "alpha", 1);

  RawClient garbage(a.address());
  garbage.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // 'GET ' is a 1.2 GB length
  RawClient oversized(a.address());
  oversized.write(std::string("\xff\xff\xff\xff", 4));
  RawClient junk_frame(a.address());
  junk_frame.write(encode_frame("\x08\x96\x01 not a handshake message").value());
  RawClient truncated(a.address());
  truncated.write(encode_frame(std::string(100, 'q')).value().substr(0, 50));  // then silence
  RawClient silent(a.address());

  // The counters are bumped by the same handlers that close, but not necessarily before the
  // client sees the close: wait for both.
  ASSERT_TRUE(run_until(io, [&] {
    return garbage.closed_by_peer() && oversized.closed_by_peer() && junk_frame.closed_by_peer() &&
           truncated.closed_by_peer() && silent.closed_by_peer() &&
           a.transport->counters().handshake_failures >= 3 &&
           a.transport->counters().handshake_timeouts >= 2;
  }));
  EXPECT_GE(a.transport->counters().handshake_failures, 3u);
  EXPECT_GE(a.transport->counters().handshake_timeouts, 2u);  // truncated + silent
  EXPECT_TRUE(a.connected.empty());

  // The listener still serves a real peer.
  Node b(io, "beta", 2);
  ASSERT_TRUE(b.transport->connect(a.address()).ok());
  // Both sides: the acceptor registers the peer before the dialer has read the last proof.
  ASSERT_TRUE(run_until(
      io, [&] { return a.transport->connected("beta") && b.transport->connected("alpha"); }));
  ASSERT_TRUE(b.transport->send("alpha", v1::CHANNEL_MEMBERSHIP, "still here").ok());
  ASSERT_TRUE(run_until(io, [&] { return got(a, "beta", "still here"); }));
}

// A flood of strangers that connect and say nothing cannot keep peers out: they have their
// own budget, the oldest of them makes room for a newcomer, and our own dials and the
// established connections do not count them.
TEST(Transport, StrangersAtTheClusterPortCannotKeepAPeerOut) {
  asio::io_context io;
  const auto tight = [](TransportConfig& c) {
    c.max_handshaking = 8;
    c.max_connections = 4;
    c.handshake_timeout_ms = 30'000;  // they would hold their slots for the whole test
  };
  Node a(io, "alpha", 1, kSecret, 0, tight);
  Node b(io, "beta", 2);
  Node c(io, "gamma", 3);
  std::vector<std::unique_ptr<RawClient>> strangers;
  for (int i = 0; i < 20; ++i) strangers.push_back(std::make_unique<RawClient>(a.address()));
  ASSERT_TRUE(
      run_until(io, [&] { return a.transport->counters().connections_refused_handshaking >= 12; }));
  // alpha dials beta; gamma dials alpha through the strangers.
  ASSERT_TRUE(a.transport->connect(b.address()).ok());
  ASSERT_TRUE(c.transport->connect(a.address()).ok());
  ASSERT_TRUE(run_until(
      io, [&] { return a.transport->connected("beta") && a.transport->connected("gamma"); }));
  EXPECT_EQ(a.transport->counters().connections_refused_limit, 0u);
}

// Drives a Handshake over a RawClient while the node's io_context runs.
bool raw_handshake(asio::io_context& io, RawClient& raw, Handshake& hs) {
  raw.write(encode_frame(hs.hello()).value());
  FrameDecoder dec(kHandshakeMaxFrameBytes);
  return run_until(io,
                   [&] {
                     if (raw.closed_by_peer()) return true;
                     dec.feed(raw.inbox);
                     raw.inbox.clear();
                     for (;;) {
                       auto f = dec.next();
                       if (!f.ok() || !f.value().has_value()) break;
                       auto step = hs.on_frame(*f.value());
                       if (!step.ok()) return true;
                       for (const auto& s : step.value().send) raw.write(encode_frame(s).value());
                       if (step.value().done) return true;
                     }
                     return false;
                   }) &&
         hs.done();
}

TEST(Transport, AuthenticatedPeerSendingAnOversizedFrameIsDisconnected) {
  asio::io_context io;
  Node a(io, "alpha", 1, kSecret, 0, [](TransportConfig& c) { c.max_frame_bytes = 64 * 1024; });
  RawClient raw(a.address());
  Nonce nonce{};
  ASSERT_EQ(RAND_bytes(nonce.data(), static_cast<int>(nonce.size())), 1);
  Handshake hs(Role::kDialer, kSecret, NodeIdentity{"rogue", 7, "127.0.0.1:1"}, nonce);
  ASSERT_TRUE(raw_handshake(io, raw, hs));
  ASSERT_TRUE(run_until(io, [&] { return a.transport->connected("rogue"); }));

  v1::Envelope env;
  env.set_channel(v1::CHANNEL_MEMBERSHIP);
  env.set_payload("fine");
  raw.write(encode_frame(env.SerializeAsString()).value());
  raw.write(std::string("\x00\x10\x00\x01", 4));  // 1 MiB + 1: above this node's limit
  ASSERT_TRUE(run_until(io, [&] { return raw.closed_by_peer(); }));
  ASSERT_TRUE(run_until(io, [&] { return !a.disconnected.empty(); }));
  EXPECT_TRUE(got(a, "rogue", "fine"));
  EXPECT_EQ(a.received.size(), 1u);
  EXPECT_EQ(a.transport->counters().frames_rejected, 1u);
  EXPECT_EQ(a.disconnected[0].name, "rogue");
}

TEST(Transport, ReconnectsAfterThePeerRestartsAsANewIncarnation) {
  asio::io_context io;
  auto a = std::make_unique<Node>(io, "alpha", 1);
  const std::string a_address = a->address();
  const auto a_port = a->transport->listen_port();
  Node b(io, "beta", 2);
  ASSERT_TRUE(b.transport->connect(a_address).ok());
  ASSERT_TRUE(run_until(io, [&] { return b.transport->connected("alpha"); }));

  a.reset();  // alpha stops (its sockets close)
  ASSERT_TRUE(run_until(io, [&] { return !b.disconnected.empty(); }));
  EXPECT_EQ(b.disconnected[0].incarnation, 1u);
  run_for(io, 300);  // b redials and fails for a while (back-off)
  EXPECT_GT(b.transport->counters().dial_failures, 0u);

  Node a2(io, "alpha", 5, kSecret, a_port);
  ASSERT_EQ(a2.address(), a_address);
  ASSERT_TRUE(run_until(io, [&] { return b.connected.size() == 2; }));
  EXPECT_EQ(b.connected[1].incarnation, 5u);
  EXPECT_EQ(b.transport->counters().reconnects, 1u);
  ASSERT_TRUE(b.transport->send("alpha", v1::CHANNEL_MEMBERSHIP, "welcome back").ok());
  ASSERT_TRUE(run_until(io, [&] { return got(a2, "beta", "welcome back"); }));
}

TEST(Transport, FullSendQueueClosesTheConnection) {
  asio::io_context io;
  Node a(io, "alpha", 1, kSecret, 0, [](TransportConfig& c) { c.send_queue_max_frames = 4; });
  Node b(io, "beta", 2);
  ASSERT_TRUE(b.transport->connect(a.address()).ok());
  ASSERT_TRUE(run_until(io, [&] { return a.transport->connected("beta"); }));
  // The io_context does not run between these sends, so nothing is written yet.
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(a.transport->send("beta", v1::CHANNEL_MEMBERSHIP, "m").ok());
  }
  auto r = a.transport->send("beta", v1::CHANNEL_MEMBERSHIP, "one too many");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), SendError::kQueueFull);
  EXPECT_EQ(a.transport->counters().send_queue_overflows, 1u);
  ASSERT_TRUE(run_until(io, [&] { return !a.disconnected.empty(); }));
  // b's dial target reconnects.
  ASSERT_TRUE(run_until(io, [&] { return a.connected.size() == 2; }));
}

TEST(Transport, SendErrors) {
  asio::io_context io;
  Node a(io, "alpha", 1, kSecret, 0, [](TransportConfig& c) { c.max_frame_bytes = 8192; });
  Node b(io, "beta", 2);
  EXPECT_EQ(a.transport->send("nobody", v1::CHANNEL_MEMBERSHIP, "x").error(),
            SendError::kNotConnected);
  ASSERT_TRUE(b.transport->connect(a.address()).ok());
  ASSERT_TRUE(run_until(io, [&] { return a.transport->connected("beta"); }));
  EXPECT_EQ(a.transport->send("beta", v1::CHANNEL_MEMBERSHIP, std::string(9000, 'x')).error(),
            SendError::kTooLarge);
  EXPECT_FALSE(a.transport->connect("no-port").ok());
  a.transport->stop();
  EXPECT_EQ(a.transport->send("beta", v1::CHANNEL_MEMBERSHIP, "x").error(), SendError::kStopped);
  run_for(io, 50);
  EXPECT_TRUE(a.disconnected.empty());  // no handler runs after stop()
}

TEST(Transport, ListenAddressInUseIsAnError) {
  asio::io_context io;
  Node a(io, "alpha", 1);
  TransportConfig c;
  c.self = NodeIdentity{"beta", 2, ""};
  c.listen_address = a.address();
  c.secret = kSecret;
  Transport t(io, c, {});
  auto r = t.start();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("cannot listen"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace minotaur::transport
