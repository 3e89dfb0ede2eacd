#include "transport/transport.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <map>
#include <random>
#include <utility>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log_throttle.h"
#include "transport/address.h"
#include "transport/handshake.h"

namespace minotaur::transport {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunkBytes = 16 * 1024;
// How often a dial target whose peer is connected (maybe through the peer's own dial) checks
// whether it must dial again.
constexpr std::uint32_t kConnectedRecheckMs = 200;

// Bugs crash: a coroutine that ends with an exception rethrows it out of io_context::run().
void rethrow(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

Nonce random_nonce() {
  Nonce n{};
  const int ok = RAND_bytes(n.data(), static_cast<int>(n.size()));
  MINOTAUR_ASSERT(ok == 1);
  return n;
}

std::string describe(const NodeIdentity& p) {
  return p.name + "#" + std::to_string(p.incarnation) + " (" + p.address + ")";
}

const char* reject_reason_text(int reason) {
  switch (reason) {
    case v1::Reject::REASON_BAD_PROOF:
      return "the cluster secrets differ; give every node the same --cookie-file or "
             "MINOTAUR_COOKIE";
    case v1::Reject::REASON_VERSION:
      return "no protocol version in common; upgrade the older node";
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

const char* to_string(SendError e) {
  switch (e) {
    case SendError::kNotConnected:
      return "peer not connected";
    case SendError::kQueueFull:
      return "send queue full; connection closed";
    case SendError::kTooLarge:
      return "message larger than the frame limit";
    case SendError::kStopped:
      return "transport stopped";
  }
  return "unknown send error";
}

namespace detail {

struct Connection {
  Connection(asio::io_context& io, Role r, std::size_t id_)
      : socket(io), resolver(io), wake(io), deadline(io), role(r), id(id_) {}

  tcp::socket socket;
  tcp::resolver resolver;
  asio::steady_timer wake;      // the writer sleeps on it; cancel() wakes it
  asio::steady_timer deadline;  // handshake deadline
  Role role;
  std::size_t id;
  FrameDecoder decoder{kHandshakeMaxFrameBytes};
  std::deque<std::string> queue;
  std::size_t queued_bytes = 0;
  bool writing = false;  // a frame taken from the queue is being written
  NodeIdentity peer;
  std::string remote;  // remote endpoint, for logs before the peer's name is known
  bool authenticated = false;
  bool registered = false;  // the connection peers_ maps the peer's name to
  bool closed = false;
  bool timed_out = false;
};

struct DialTarget {
  DialTarget(asio::io_context& io, std::string a) : address(std::move(a)), timer(io) {}
  std::string address;
  asio::steady_timer timer;
  std::string peer_name;  // who answered last time
  bool cancelled = false;
  bool ever_connected = false;
};

enum class DialOutcome { kFailed, kAuthenticated, kSelf };

class TransportImpl : public std::enable_shared_from_this<TransportImpl> {
 public:
  TransportImpl(asio::io_context& io, TransportConfig config, TransportHandlers handlers)
      : io_(io),
        config_(std::move(config)),
        handlers_(std::move(handlers)),
        acceptor_(io),
        rng_(std::random_device{}()) {
    MINOTAUR_ASSERT(valid_node_name(config_.self.name));
    MINOTAUR_ASSERT(config_.self.incarnation != 0);
    MINOTAUR_ASSERT(!config_.secret.empty() && config_.secret.size() <= kMaxSecretBytes);
    MINOTAUR_ASSERT(config_.max_frame_bytes >= kHandshakeMaxFrameBytes);
    MINOTAUR_ASSERT(config_.max_frame_bytes <= kMaxMaxFrameBytes);
    MINOTAUR_ASSERT(config_.send_queue_max_frames > 0 && config_.send_queue_max_bytes > 0);
    MINOTAUR_ASSERT(config_.reconnect_initial_ms > 0);
    MINOTAUR_ASSERT(config_.reconnect_initial_ms <= config_.reconnect_max_ms);
    MINOTAUR_ASSERT(config_.handshake_timeout_ms > 0 && config_.max_connections > 0);
  }

  void set_handlers(TransportHandlers handlers) {
    MINOTAUR_ASSERT(!started_ && !stopped_);
    handlers_ = std::move(handlers);
  }

  Result<Ok, std::string> start() {
    MINOTAUR_ASSERT(!started_ && !stopped_);
    auto hp = parse_host_port(config_.listen_address);
    if (!hp.ok()) return err("cluster listen address: " + hp.error());
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(hp.value().host, ec);
    if (ec) {
      return err("cluster listen address '" + config_.listen_address +
                 "': the host must be an IP address (e.g. 0.0.0.0 or 127.0.0.1)");
    }
    const tcp::endpoint ep(ip, hp.value().port);
    if (acceptor_.open(ep.protocol(), ec); ec) return err("cannot open socket: " + ec.message());
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (acceptor_.bind(ep, ec); ec) {
      return err("cannot listen on " + config_.listen_address + ": " + ec.message() +
                 "; pick a free port or stop the process holding it");
    }
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return err("cannot listen on " + config_.listen_address + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    if (config_.self.address.empty()) {
      config_.self.address = format_host_port(HostPort{hp.value().host, port_});
    }
    MINOTAUR_ASSERT(valid_identity(config_.self));
    started_ = true;
    spdlog::info("transport: node {} listening for cluster peers on {} (advertised as {})",
                 config_.self.name, format_host_port(HostPort{hp.value().host, port_}),
                 config_.self.address);
    asio::co_spawn(io_, accept_loop(shared_from_this()), rethrow);
    return Ok{};
  }

  Result<Ok, std::string> connect(const std::string& address) {
    if (stopped_) return err(std::string("transport stopped"));
    MINOTAUR_ASSERT(started_);
    auto hp = parse_host_port(address);
    if (!hp.ok()) return err(hp.error());
    if (hp.value().port == 0) return err("cannot dial port 0 in '" + address + "'");
    if (targets_.contains(address)) return Ok{};
    if (targets_.size() >= config_.max_dial_targets) {
      return err("too many dial targets (" + std::to_string(config_.max_dial_targets) +
                 "); forget() addresses no longer needed");
    }
    auto t = std::make_shared<DialTarget>(io_, address);
    targets_.emplace(address, t);
    asio::co_spawn(io_, dial_loop(shared_from_this(), t), rethrow);
    return Ok{};
  }

  void forget(const std::string& address) {
    auto it = targets_.find(address);
    if (it == targets_.end()) return;
    it->second->cancelled = true;
    it->second->timer.cancel();
    targets_.erase(it);
  }

  Result<Ok, SendError> send(std::string_view peer_name, v1::Channel channel,
                             std::string_view payload) {
    if (stopped_) return err(SendError::kStopped);
    auto it = peers_.find(peer_name);
    if (it == peers_.end()) {
      ++counters_.sends_not_connected;
      return err(SendError::kNotConnected);
    }
    const std::shared_ptr<Connection>& c = it->second;
    v1::Envelope env;
    env.set_channel(channel);
    env.set_payload(payload.data(), payload.size());
    std::string bytes;
    const bool serialized = env.SerializeToString(&bytes);
    MINOTAUR_ASSERT(serialized);
    auto frame = encode_frame(bytes, config_.max_frame_bytes);
    if (!frame.ok()) return err(SendError::kTooLarge);
    if (c->queue.size() >= config_.send_queue_max_frames ||
        c->queued_bytes + frame.value().size() > config_.send_queue_max_bytes) {
      ++counters_.send_queue_overflows;
      spdlog::warn(
          "transport: send queue to {} is full ({} frames, {} bytes); closing the connection "
          "- the peer is not reading; it will reconnect",
          describe(c->peer), c->queue.size(), c->queued_bytes);
      close(*c);
      return err(SendError::kQueueFull);
    }
    c->queued_bytes += frame.value().size();
    c->queue.push_back(std::move(frame).value());
    c->wake.cancel();
    return Ok{};
  }

  void disconnect(std::string_view peer_name) {
    auto it = peers_.find(peer_name);
    if (it != peers_.end()) close(*it->second);
  }

  bool connected(std::string_view name) const { return peers_.find(name) != peers_.end(); }

  bool idle() const {
    for (const auto& [name, c] : peers_) {
      if (!c->closed && (!c->queue.empty() || c->writing)) return false;
    }
    return true;
  }

  std::vector<NodeIdentity> peers() const {
    std::vector<NodeIdentity> out;
    for (const auto& [name, c] : peers_) out.push_back(c->peer);
    return out;
  }

  const TransportCounters& counters() const { return counters_; }
  const NodeIdentity& self() const { return config_.self; }
  std::uint16_t port() const { return port_; }

  void stop() {
    if (stopped_) return;
    // Handlers are kept (one may be running right now) but never called again: every call site
    // checks stopped_.
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& [address, t] : targets_) {
      t->cancelled = true;
      t->timer.cancel();
    }
    targets_.clear();
    for (auto& [id, c] : connections_) close(*c);
    for (auto& [name, c] : peers_) c->registered = false;
    peers_.clear();
    if (started_) spdlog::info("transport: node {} stopped", config_.self.name);
  }

 private:
  static void close(Connection& c) {
    if (c.closed) return;
    c.closed = true;
    boost::system::error_code ec;
    c.socket.shutdown(tcp::socket::shutdown_both, ec);
    c.socket.close(ec);
    c.resolver.cancel();
    c.wake.cancel();
    c.deadline.cancel();
  }

  std::uint32_t jitter(std::uint32_t backoff_ms) {
    std::uniform_int_distribution<std::uint32_t> d(backoff_ms / 2, backoff_ms);
    return d(rng_);
  }

  static asio::awaitable<void> sleep(asio::steady_timer& t, std::uint32_t ms) {
    t.expires_after(std::chrono::milliseconds(ms));
    co_await t.async_wait(kNoThrow);
  }

  static asio::awaitable<void> accept_loop(std::shared_ptr<TransportImpl> self) {
    asio::steady_timer pause(self->io_);
    while (!self->stopped_) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(kNoThrow);
      if (self->stopped_) break;
      const std::int64_t now_ms = steady_now_ms();
      if (ec) {
        // Out of file descriptors and the like: say so (once per interval), wait, keep serving.
        self->accept_log_.note(now_ms, [&](std::uint64_t count) {
          spdlog::warn(
              "transport: accept failed: {} ({} times in the last interval); retrying "
              "every 100 ms; raise the open-file limit (ulimit -n) if it goes on",
              ec.message(), count);
        });
        co_await sleep(pause, 100);
        continue;
      }
      // Strangers (accepted, not yet authenticated) have a budget of their own. When it is
      // full, the oldest stranger makes room: a real peer finishes its handshake in a round
      // trip, so under a flood of connections that say nothing it still gets through, and
      // neither the established peers nor our own dials are touched.
      const std::size_t handshaking = self->accepted_handshaking();
      const bool full = self->connections_.size() - handshaking >= self->config_.max_connections;
      if (full || handshaking >= self->config_.max_handshaking) {
        ++(full ? self->counters_.connections_refused_limit
                : self->counters_.connections_refused_handshaking);
        self->refused_log_.note(now_ms, [&](std::uint64_t count) {
          spdlog::warn(
              "transport: {} cluster connections refused or dropped in the last interval: {}",
              count,
              full ? fmt::format("{} connections open (the limit)",
                                 self->connections_.size() - handshaking)
                   : fmt::format("{} unauthenticated connections at once (the limit); the oldest "
                                 "made room",
                                 handshaking));
        });
        if (full) {
          boost::system::error_code ignored;
          socket.close(ignored);
          continue;
        }
        self->close_oldest_stranger();
      }
      ++self->counters_.connections_accepted;
      auto c = self->new_connection(Role::kAcceptor);
      c->socket = std::move(socket);
      boost::system::error_code rec;
      const auto remote = c->socket.remote_endpoint(rec);
      c->remote = rec ? std::string("?")
                      : remote.address().to_string() + ":" + std::to_string(remote.port());
      asio::co_spawn(self->io_, run_accepted(self, c), rethrow);
    }
  }

  static asio::awaitable<void> run_accepted(std::shared_ptr<TransportImpl> self,
                                            std::shared_ptr<Connection> c) {
    self->arm_deadline(c);
    co_await run_connection(self, c, nullptr);
  }

  void close_oldest_stranger() {
    for (const auto& [id, c] : connections_) {  // by id: oldest first
      if (c->role == Role::kAcceptor && !c->authenticated && !c->closed) {
        close(*c);
        return;
      }
    }
  }

  // Accepted connections whose peer has not authenticated yet.
  std::size_t accepted_handshaking() const {
    std::size_t n = 0;
    for (const auto& [id, c] : connections_) {
      if (c->role == Role::kAcceptor && !c->authenticated) ++n;
    }
    return n;
  }

  std::shared_ptr<Connection> new_connection(Role role) {
    auto c = std::make_shared<Connection>(io_, role, next_connection_id_++);
    connections_.emplace(c->id, c);
    return c;
  }

  void arm_deadline(const std::shared_ptr<Connection>& c) {
    c->deadline.expires_after(std::chrono::milliseconds(config_.handshake_timeout_ms));
    c->deadline.async_wait([c](const boost::system::error_code& ec) {
      if (ec || c->authenticated || c->closed) return;
      c->timed_out = true;
      close(*c);
    });
  }

  static asio::awaitable<void> dial_loop(std::shared_ptr<TransportImpl> self,
                                         std::shared_ptr<DialTarget> t) {
    std::uint32_t backoff_ms = self->config_.reconnect_initial_ms;
    while (!self->stopped_ && !t->cancelled) {
      if (!t->peer_name.empty() && self->connected(t->peer_name)) {
        co_await sleep(t->timer, kConnectedRecheckMs);
        continue;
      }
      const DialOutcome outcome = co_await dial_once(self, t);
      if (self->stopped_ || t->cancelled) break;
      if (outcome == DialOutcome::kSelf) {
        spdlog::info("transport: {} is this node itself; no longer dialing it", t->address);
        if (self->handlers_.on_dialed_self && !self->stopped_) {
          self->handlers_.on_dialed_self(t->address);
        }
        break;
      }
      if (outcome == DialOutcome::kAuthenticated) {
        backoff_ms = self->config_.reconnect_initial_ms;
        co_await sleep(t->timer, self->jitter(backoff_ms));
      } else {
        ++self->counters_.dial_failures;
        co_await sleep(t->timer, self->jitter(backoff_ms));
        backoff_ms = std::min(backoff_ms * 2, self->config_.reconnect_max_ms);
      }
    }
    auto it = self->targets_.find(t->address);
    if (it != self->targets_.end() && it->second == t) self->targets_.erase(it);
  }

  static asio::awaitable<DialOutcome> dial_once(std::shared_ptr<TransportImpl> self,
                                                std::shared_ptr<DialTarget> t) {
    ++self->counters_.dial_attempts;
    if (self->connections_.size() - self->accepted_handshaking() >= self->config_.max_connections) {
      ++self->counters_.connections_refused_limit;
      co_return DialOutcome::kFailed;
    }
    auto hp = parse_host_port(t->address);
    MINOTAUR_ASSERT(hp.ok());  // checked by connect()
    auto c = self->new_connection(Role::kDialer);
    c->remote = t->address;
    self->arm_deadline(c);
    auto [rec, endpoints] = co_await c->resolver.async_resolve(
        hp.value().host, std::to_string(hp.value().port), kNoThrow);
    if (rec || c->closed) {
      spdlog::debug("transport: cannot resolve {}: {}", t->address, rec.message());
      self->forget_connection(*c);
      co_return DialOutcome::kFailed;
    }
    auto [cec, ep] = co_await asio::async_connect(c->socket, endpoints, kNoThrow);
    if (cec || c->closed) {
      spdlog::debug("transport: cannot connect to {}: {}", t->address,
                    c->timed_out ? "timed out" : cec.message());
      self->forget_connection(*c);
      co_return DialOutcome::kFailed;
    }
    const ConnectionEnd end = co_await run_connection(self, c, t);
    if (end.self_dial) co_return DialOutcome::kSelf;
    if (!end.authenticated) co_return DialOutcome::kFailed;
    co_return DialOutcome::kAuthenticated;
  }

  struct ConnectionEnd {
    bool authenticated = false;
    bool self_dial = false;
  };

  void forget_connection(Connection& c) {
    close(c);
    connections_.erase(c.id);
  }

  // Runs a connected socket to its end: handshake, then the reader (the writer runs beside it).
  // t is the dial target that made the connection, if any.
  static asio::awaitable<ConnectionEnd> run_connection(std::shared_ptr<TransportImpl> self,
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

  asio::awaitable<void> write_frames(std::shared_ptr<Connection> c,
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

  // The handshake; true when the peer proved the secret. Never reads an application frame.
  asio::awaitable<bool> handshake(std::shared_ptr<Connection> c, std::vector<char>& buf,
                                  ConnectionEnd& end) {
    Handshake hs(c->role, config_.secret, config_.self, random_nonce());
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

  void handshake_failed(Connection& c, const std::string& why) {
    ++counters_.handshake_failures;
    spdlog::warn("transport: refused cluster connection {} ({}): {}", c.remote,
                 c.role == Role::kDialer ? "dialed" : "accepted", why);
    close(c);
  }

  // Decides whether an authenticated connection becomes the peer's connection.
  bool admit(const std::shared_ptr<Connection>& c) {
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

  void register_peer(const std::shared_ptr<Connection>& c) {
    c->registered = true;
    peers_.emplace(c->peer.name, c);
    ++counters_.peers_connected;
    spdlog::info("transport: peer {} connected ({})", describe(c->peer),
                 c->role == Role::kDialer ? "we dialed" : "it dialed");
    if (handlers_.on_peer_connected) handlers_.on_peer_connected(c->peer);
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<TransportImpl> self,
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

  asio::awaitable<void> read_loop(std::shared_ptr<Connection> c, std::vector<char>& buf) {
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

  asio::io_context& io_;
  TransportConfig config_;
  TransportHandlers handlers_;
  tcp::acceptor acceptor_;
  LogThrottle accept_log_{10'000};
  LogThrottle refused_log_{10'000};
  std::mt19937_64 rng_;  // back-off jitter only; nonces come from RAND_bytes
  std::uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  std::size_t next_connection_id_ = 1;
  std::map<std::size_t, std::shared_ptr<Connection>> connections_;
  std::map<std::string, std::shared_ptr<Connection>, std::less<>> peers_;
  std::map<std::string, std::shared_ptr<DialTarget>> targets_;
  TransportCounters counters_;
};

}  // namespace detail

Transport::Transport(asio::io_context& io, TransportConfig config, TransportHandlers handlers)
    : impl_(std::make_shared<detail::TransportImpl>(io, std::move(config), std::move(handlers))) {}

Transport::~Transport() {
  impl_->stop();
}

void Transport::set_handlers(TransportHandlers handlers) {
  impl_->set_handlers(std::move(handlers));
}
Result<Ok, std::string> Transport::start() {
  return impl_->start();
}
const NodeIdentity& Transport::self() const {
  return impl_->self();
}
std::uint16_t Transport::listen_port() const {
  return impl_->port();
}
Result<Ok, std::string> Transport::connect(const std::string& address) {
  return impl_->connect(address);
}
void Transport::forget(const std::string& address) {
  impl_->forget(address);
}
Result<Ok, SendError> Transport::send(std::string_view peer_name, v1::Channel channel,
                                      std::string_view payload) {
  return impl_->send(peer_name, channel, payload);
}
void Transport::disconnect(std::string_view peer_name) {
  impl_->disconnect(peer_name);
}
bool Transport::idle() const {
  return impl_->idle();
}

bool Transport::connected(std::string_view peer_name) const {
  return impl_->connected(peer_name);
}
std::vector<NodeIdentity> Transport::peers() const {
  return impl_->peers();
}
const TransportCounters& Transport::counters() const {
  return impl_->counters();
}
void Transport::stop() {
  impl_->stop();
}

}  // namespace minotaur::transport
