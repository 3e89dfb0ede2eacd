// One connection to a peer: the handshake (nothing but handshake frames until the peer proved
// the secret), the choice of one connection per peer name, the writer of its queue and the
// reader that hands frames to on_message.
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>

#include "base/assert.h"
#include "base/clock.h"
#include "transport/transport_impl.h"

namespace minotaur::transport::detail {

namespace {

constexpr std::size_t kReadChunkBytes = 16 * 1024;

Nonce random_nonce() {
  Nonce n{};
  const int ok = RAND_bytes(n.data(), static_cast<int>(n.size()));
  MINOTAUR_ASSERT(ok == 1);
  return n;
}

const char* reject_reason_text(int reason) {
  switch (reason) {
    case v1::Reject::REASON_BAD_PROOF:
      return "the cluster secrets differ; give every node the same --cookie-file or "
             "MINOTAUR_COOKIE";
    case v1::Reject::REASON_VERSION:
      return "no protocol version in common (a build that refuses before the proofs); deploy "
             "builds that share a protocol version";
    case v1::Reject::REASON_MALFORMED:
      return "it could not decode our handshake (a different program on that port?)";
    case v1::Reject::REASON_SELF_CONNECT:
      return "it has our own name; node names must be unique";
    default:
      return "no reason given";
  }
}

std::string failure_text(const HandshakeFailure& f) {
  std::string why = to_string(f.error);
  if (f.error == HandshakeError::kRejectedByPeer) {
    why += std::string(": ") + reject_reason_text(f.peer_reason);
  } else if (f.error == HandshakeError::kBadProof) {
    why += "; give every node the same --cookie-file or MINOTAUR_COOKIE";
  }
  return why;
}

std::string oversized_handshake_frame_text() {
  return "sent a frame larger than a handshake allows (not a Minotaur node, or another protocol)";
}

}  // namespace

void TransportImpl::forget_connection(Connection& c) {
  close(c);
  connections_.erase(c.id);
}

asio::awaitable<ConnectionEnd> TransportImpl::run_connection(std::shared_ptr<TransportImpl> self,
                                                             std::shared_ptr<Connection> c,
                                                             std::shared_ptr<DialTarget> t) {
  ConnectionEnd end;
  std::vector<char> buf(kReadChunkBytes);
  const bool ok = co_await self->handshake(c, buf, end);
  if (ok && t) {
    if (t->ever_connected) ++self->counters_.reconnects;
    t->ever_connected = true;
    t->peer_name = c->peer.name;
  }
  if (ok && self->admit(c)) {
    end.authenticated = true;
    asio::co_spawn(self->io_, write_loop(self, c), rethrow);
    co_await self->read_loop(c, buf);
  } else if (ok) {
    end.authenticated = true;  // authenticated but a duplicate or stale: closed on purpose
  }
  self->forget_connection(*c);
  if (c->registered) {
    c->registered = false;
    auto it = self->peers_.find(c->peer.name);
    if (it != self->peers_.end() && it->second == c) self->peers_.erase(it);
    ++self->counters_.peers_disconnected;
    spdlog::info("transport: peer {} disconnected", describe(c->peer));
    if (self->handlers_.on_peer_disconnected && !self->stopped_) {
      self->handlers_.on_peer_disconnected(c->peer);
    }
  }
  co_return end;
}

asio::awaitable<void> TransportImpl::write_frames(std::shared_ptr<Connection> c,
                                                  std::vector<std::string> payloads) {
  for (const std::string& p : payloads) {
    auto frame = encode_frame(p, kHandshakeMaxFrameBytes);
    MINOTAUR_ASSERT(frame.ok());
    auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(frame.value()), kNoThrow);
    counters_.bytes_sent += n;
    if (ec) {
      close(*c);
      co_return;
    }
  }
}

asio::awaitable<bool> TransportImpl::handshake(std::shared_ptr<Connection> c,
                                               std::vector<char>& buf, ConnectionEnd& end) {
  Handshake hs(c->role, config_.secret, config_.self, random_nonce(),
               HandshakeOptions{config_.protocol_range, config_.build});
  std::vector<std::string> hello(1, hs.hello());  // no braced list: GCC 12 coroutine bug
  co_await write_frames(c, std::move(hello));
  while (!c->closed) {
    for (;;) {
      auto frame = c->decoder.next();
      if (!frame.ok()) {
        handshake_failed(*c, oversized_handshake_frame_text());
        co_return false;
      }
      if (!frame.value().has_value()) break;
      auto step = hs.on_frame(*frame.value());
      if (!step.ok()) {
        const HandshakeFailure& f = step.error();
        co_await write_frames(c, f.send);
        if (f.error == HandshakeError::kSelfConnect && f.same_process) {
          end.self_dial = c->role == Role::kDialer;
          close(*c);
          co_return false;
        }
        if (f.error == HandshakeError::kVersionMismatch) {
          protocol_refused(*c, f);
          co_return false;
        }
        handshake_failed(*c, failure_text(f));
        co_return false;
      }
      co_await write_frames(c, step.value().send);
      if (step.value().done) {
        if (c->closed) co_return false;
        c->authenticated = true;
        c->deadline.cancel();
        c->peer = hs.peer();
        c->decoder.set_max_frame_bytes(config_.max_frame_bytes);
        ++counters_.handshakes_ok;
        co_return true;
      }
    }
    auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(buf), kNoThrow);
    counters_.bytes_received += n;
    if (ec) break;
    c->decoder.feed(std::string_view(buf.data(), n));
  }
  if (c->timed_out) {
    ++counters_.handshake_timeouts;
    spdlog::warn("transport: handshake with {} timed out after {} ms; dropped", c->remote,
                 config_.handshake_timeout_ms);
  } else if (!stopped_) {
    spdlog::debug("transport: connection {} closed during the handshake", c->remote);
  }
  co_return false;
}

void TransportImpl::protocol_refused(Connection& c, const HandshakeFailure& f) {
  ++counters_.handshake_failures;
  ++counters_.protocol_refusals;
  const std::string theirs =
      f.peer_build.empty() ? "a build that does not say its version" : f.peer_build;
  const std::string ours = config_.build.empty() ? std::string("this build") : config_.build;
  // What to do depends on the side: the dialer is the node that joins (or redials), the
  // acceptor a member the other one knocked at.
  const std::string next = c.role == Role::kDialer
                               ? "run a build here that speaks one of " + to_string(f.peer_range)
                               : "the node " + f.peer.name + " needs a build that speaks one of " +
                                     to_string(config_.protocol_range) + " to join";
  protocol_log_.note(steady_now_ms(), [&](std::uint64_t count) {
    spdlog::error(
        "transport: refused cluster connection {} ({}) with {}: no protocol version in common: "
        "it runs {} and speaks protocol versions {}; this node runs {} and speaks {}. Nodes must "
        "share a protocol version: {}, or roll the cluster through a build that speaks both "
        "ranges first ({} refusal(s) of this kind since the last such line)",
        c.remote, c.role == Role::kDialer ? "dialed" : "accepted", describe(f.peer), theirs,
        to_string(f.peer_range), ours, to_string(config_.protocol_range), next, count);
  });
  close(c);
  if (handlers_.on_protocol_refused && !stopped_) {
    handlers_.on_protocol_refused(
        ProtocolRefusal{f.peer, f.peer_range, f.peer_build, c.role == Role::kDialer});
  }
}

void TransportImpl::handshake_failed(Connection& c, const std::string& why) {
  ++counters_.handshake_failures;
  spdlog::warn("transport: refused cluster connection {} ({}): {}", c.remote,
               c.role == Role::kDialer ? "dialed" : "accepted", why);
  close(c);
}

bool TransportImpl::admit(const std::shared_ptr<Connection>& c) {
  if (stopped_ || c->closed) return false;
  auto it = peers_.find(c->peer.name);
  if (it == peers_.end()) {
    register_peer(c);
    return true;
  }
  std::shared_ptr<Connection> old = it->second;
  if (c->peer.incarnation < old->peer.incarnation) {
    spdlog::warn("transport: refused {}: an older incarnation than the connected {}",
                 describe(c->peer), describe(old->peer));
    return false;
  }
  if (c->peer.incarnation > old->peer.incarnation) {
    old->registered = false;
    close(*old);
    peers_.erase(it);
    ++counters_.peers_disconnected;
    spdlog::info("transport: peer {} replaced by its new incarnation {}", describe(old->peer),
                 c->peer.incarnation);
    if (handlers_.on_peer_disconnected) handlers_.on_peer_disconnected(old->peer);
    if (stopped_ || c->closed) return false;
    register_peer(c);
    return true;
  }
  // The same process reached us twice. Keep the connection dialed by the lower name, which
  // the peer computes the same way; with equal roles keep the older one.
  const bool lower_dials = config_.self.name < c->peer.name;
  const bool new_wins = c->role != old->role && ((c->role == Role::kDialer) == lower_dials);
  if (!new_wins) return false;
  c->queue = std::move(old->queue);
  c->queued_bytes = old->queued_bytes;
  old->queue.clear();
  old->queued_bytes = 0;
  old->registered = false;
  close(*old);
  c->registered = true;
  it->second = c;
  return true;
}

void TransportImpl::register_peer(const std::shared_ptr<Connection>& c) {
  c->registered = true;
  peers_.emplace(c->peer.name, c);
  ++counters_.peers_connected;
  spdlog::info("transport: peer {} connected ({})", describe(c->peer),
               c->role == Role::kDialer ? "we dialed" : "it dialed");
  if (handlers_.on_peer_connected) handlers_.on_peer_connected(c->peer);
}

asio::awaitable<void> TransportImpl::write_loop(std::shared_ptr<TransportImpl> self,
                                                std::shared_ptr<Connection> c) {
  while (!c->closed) {
    if (c->queue.empty()) {
      c->wake.expires_at(asio::steady_timer::time_point::max());
      co_await c->wake.async_wait(kNoThrow);
      continue;
    }
    std::string frame = std::move(c->queue.front());
    c->queue.pop_front();
    c->queued_bytes -= frame.size();
    c->writing = true;
    auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(frame), kNoThrow);
    c->writing = false;
    self->counters_.bytes_sent += n;
    if (ec) {
      close(*c);
      break;
    }
    ++self->counters_.messages_sent;
  }
}

asio::awaitable<void> TransportImpl::read_loop(std::shared_ptr<Connection> c,
                                               std::vector<char>& buf) {
  while (!c->closed) {
    for (;;) {
      auto frame = c->decoder.next();
      if (!frame.ok()) {
        ++counters_.frames_rejected;
        spdlog::warn("transport: peer {} sent a frame above {} bytes; disconnecting it",
                     describe(c->peer), config_.max_frame_bytes);
        close(*c);
        co_return;
      }
      if (!frame.value().has_value()) break;
      const std::string& payload = *frame.value();
      v1::Envelope env;
      if (!env.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
        ++counters_.frames_rejected;
        spdlog::warn("transport: peer {} sent an undecodable envelope; disconnecting it",
                     describe(c->peer));
        close(*c);
        co_return;
      }
      ++counters_.messages_received;
      if (handlers_.on_message && !stopped_) {
        handlers_.on_message(c->peer, env.channel(), env.payload());
      }
      if (c->closed || !c->registered) co_return;
    }
    auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(buf), kNoThrow);
    counters_.bytes_received += n;
    if (ec) break;
    c->decoder.feed(std::string_view(buf.data(), n));
  }
}

}  // namespace minotaur::transport::detail
