// TransportImpl: the state and the coroutines behind Transport (transport.h), which owns it by
// shared_ptr so that coroutines still parked in the io_context keep it alive. One class, its
// parts in one file each:
//   transport.cc             the public operations: start, connect, forget, send, stop
//   transport_accept.cc      the listener: accepting, the strangers' budget, the handshake deadline
//   transport_dial.cc        dial targets: dialing, redialing with back-off
//   transport_connection.cc  one connection: the handshake, one connection per peer, the writer
//                            and the reader
// Not for use outside transport/.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/log_throttle.h"
#include "transport/frame.h"
#include "transport/handshake.h"
#include "transport/transport.h"

namespace minotaur::transport {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace detail {

inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// Bugs crash: a coroutine that ends with an exception rethrows it out of io_context::run().
inline void rethrow(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

inline std::string describe(const NodeIdentity& p) {
  return p.name + "#" + std::to_string(p.incarnation) + " (" + p.address + ")";
}

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

struct ConnectionEnd {
  bool authenticated = false;
  bool self_dial = false;
};

class TransportImpl : public std::enable_shared_from_this<TransportImpl> {
 public:
  TransportImpl(asio::io_context& io, TransportConfig config, TransportHandlers handlers);

  // The operations of Transport (transport.h), which says what each does.
  void set_handlers(TransportHandlers handlers);
  Result<Ok, std::string> start();
  Result<Ok, std::string> connect(const std::string& address);
  void forget(const std::string& address);
  Result<Ok, SendError> send(std::string_view peer_name, v1::Channel channel,
                             std::string_view payload);
  void disconnect(std::string_view peer_name);
  bool connected(std::string_view name) const { return peers_.find(name) != peers_.end(); }
  bool idle() const;
  std::vector<NodeIdentity> peers() const;
  const TransportCounters& counters() const { return counters_; }
  const NodeIdentity& self() const { return config_.self; }
  std::uint16_t port() const { return port_; }
  void stop();

 private:
  static void close(Connection& c);

  std::uint32_t jitter(std::uint32_t backoff_ms) {
    std::uniform_int_distribution<std::uint32_t> d(backoff_ms / 2, backoff_ms);
    return d(rng_);
  }

  static asio::awaitable<void> sleep(asio::steady_timer& t, std::uint32_t ms) {
    t.expires_after(std::chrono::milliseconds(ms));
    co_await t.async_wait(kNoThrow);
  }

  // ---- the listener (transport_accept.cc) ----
  static asio::awaitable<void> accept_loop(std::shared_ptr<TransportImpl> self);
  static asio::awaitable<void> run_accepted(std::shared_ptr<TransportImpl> self,
                                            std::shared_ptr<Connection> c);
  void close_oldest_stranger();
  // Accepted connections whose peer has not authenticated yet.
  std::size_t accepted_handshaking() const;
  std::shared_ptr<Connection> new_connection(Role role);
  void arm_deadline(const std::shared_ptr<Connection>& c);

  // ---- dial targets (transport_dial.cc) ----
  static asio::awaitable<void> dial_loop(std::shared_ptr<TransportImpl> self,
                                         std::shared_ptr<DialTarget> t);
  static asio::awaitable<DialOutcome> dial_once(std::shared_ptr<TransportImpl> self,
                                                std::shared_ptr<DialTarget> t);

  // ---- one connection (transport_connection.cc) ----
  void forget_connection(Connection& c);
  // Runs a connected socket to its end: handshake, then the reader (the writer runs beside it).
  // t is the dial target that made the connection, if any.
  static asio::awaitable<ConnectionEnd> run_connection(std::shared_ptr<TransportImpl> self,
                                                       std::shared_ptr<Connection> c,
                                                       std::shared_ptr<DialTarget> t);
  asio::awaitable<void> write_frames(std::shared_ptr<Connection> c,
                                     std::vector<std::string> payloads);
  // The handshake; true when the peer proved the secret. Never reads an application frame.
  asio::awaitable<bool> handshake(std::shared_ptr<Connection> c, std::vector<char>& buf,
                                  ConnectionEnd& end);
  void handshake_failed(Connection& c, const std::string& why);
  // Logs an authenticated peer's refusal for want of a protocol version, closes, tells the
  // handler.
  void protocol_refused(Connection& c, const HandshakeFailure& f);
  // Decides whether an authenticated connection becomes the peer's connection.
  bool admit(const std::shared_ptr<Connection>& c);
  void register_peer(const std::shared_ptr<Connection>& c);
  static asio::awaitable<void> write_loop(std::shared_ptr<TransportImpl> self,
                                          std::shared_ptr<Connection> c);
  asio::awaitable<void> read_loop(std::shared_ptr<Connection> c, std::vector<char>& buf);

  asio::io_context& io_;
  TransportConfig config_;
  TransportHandlers handlers_;
  tcp::acceptor acceptor_;
  LogThrottle accept_log_{10'000};
  LogThrottle refused_log_{10'000};
  // A member keeps redialing a peer it shares no protocol version with (the back-off tops out at
  // 2 s), and a node may keep knocking: one error line per minute, not one per attempt.
  LogThrottle protocol_log_{60'000};
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
}  // namespace minotaur::transport
