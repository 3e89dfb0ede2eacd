// HttpServer: listening, accepting (with back-off when out of file descriptors), the TLS
// handshake when the port speaks TLS, one connection's requests in order (keep-alive,
// pipelining), and the limits on connections and requests. A WebSocket upgrade goes to
// serve_websocket (http_websocket.cc).
#include "gateway/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket.hpp>

#include "base/clock.h"
#include "gateway/http_server_impl.h"
#include "gateway/request_parser.h"

namespace minotaur::gateway {

namespace websocket = beast::websocket;

// After accept() fails (no file descriptor left, say), wait this long, doubling up to the max.
constexpr std::int64_t kAcceptBackoffInitialMs = 10;
constexpr std::int64_t kAcceptBackoffMaxMs = 1'000;
// A connection over its limit gets this long for its handshake and its one request.
constexpr std::chrono::milliseconds kOverLimitTimeout{2'000};
// A refusal (malformed request, no connection left) gets this long to be written.
constexpr std::chrono::milliseconds kRefusalWriteTimeout{2'000};
// TLS's close_notify at the end of a connection: sent, and its answer waited for this long.
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1'000};

HttpServer::HttpServer(asio::io_context& io, Api& api, sessions::Router& host,
                       GatewayMetrics& metrics, ServerLimits limits,
                       std::shared_ptr<asio::ssl::context> tls)
    : state_(std::make_shared<State>(io, api, host, metrics, limits, std::move(tls))) {}

HttpServer::~HttpServer() {
  stop();
}

Result<tcp::endpoint, std::string> HttpServer::listen(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return err(fmt::format("'{}' is not an IP address; give --http as IP:PORT", host));
  const tcp::endpoint ep(address, port);
  auto& acc = state_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return err(fmt::format("cannot listen for HTTP on {}:{}: {}; choose another --http port", host,
                           port, ec.message()));
  }
  asio::co_spawn(state_->io, state_->accept_loop(), asio::detached);
  return acc.local_endpoint();
}

void HttpServer::stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  for (beast::tcp_stream* s : state_->streams) s->socket().close(ec);
}

asio::awaitable<void> HttpServer::State::accept_loop() {
  auto self = shared_from_this();
  asio::steady_timer pause(io);
  std::int64_t backoff_ms = kAcceptBackoffInitialMs;
  while (!stopped) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (stopped) break;
    if (ec) {
      // Out of file descriptors and the like: accepting again at once would fail again at once
      // (a busy core, a log line each time). Wait, longer each time, and keep serving.
      ++metrics.accept_errors;
      accept_log.note(steady_now_ms(), [&](std::uint64_t count) {
        spdlog::warn(
            "http: accept failed: {} ({} times in the last interval); waiting up to {} ms "
            "between tries; raise the open-file limit (ulimit -n) if it goes on",
            ec.message(), count, kAcceptBackoffMaxMs);
      });
      pause.expires_after(std::chrono::milliseconds(backoff_ms));
      co_await pause.async_wait(kUseTuple);
      backoff_ms = std::min(backoff_ms * 2, kAcceptBackoffMaxMs);
      continue;
    }
    backoff_ms = kAcceptBackoffInitialMs;
    asio::co_spawn(io, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::State::serve(tcp::socket socket) {
  auto self = shared_from_this();
  boost::system::error_code aec;
  const auto remote = socket.remote_endpoint(aec);
  const std::string address = aec ? std::string("?") : remote.address().to_string();
  if (!budgets->open_connection(address)) {
    // Over its share: closed at once, without a write that a flood could make wait.
    ++metrics.connections_refused;
    refused_log.note(steady_now_ms(), [&](std::uint64_t count) {
      spdlog::warn(
          "http: refused {} connections of clients over their open-connection limit in "
          "the last interval (last: {})",
          count, address);
    });
    co_return;
  }
  ++metrics.connections_open;
  struct Guard {
    State& s;
    const std::string& address;
    ~Guard() {
      s.budgets->close_connection(address);
      // After stop() the node's metrics may be gone: the io_context destroys what is left of
      // the coroutines last.
      if (!s.stopped) --s.metrics.connections_open;
    }
  } guard{*this, address};
  // The one catch of a connection: whatever its own code throws on a client's input ends this
  // connection, never the node. (Beast's completion handlers run outside this frame; the
  // parser they call does not throw, see request_parser.h.)
  try {
    if (tls) {
      TlsStream stream(std::move(socket), *tls);
      co_await serve_connection(stream, address);
    } else {
      beast::tcp_stream stream(std::move(socket));
      co_await serve_connection(stream, address);
    }
  } catch (const std::exception& e) {
    ++metrics.connections_failed;
    failure_log.note(steady_now_ms(), [&](std::uint64_t count) {
      spdlog::warn(
          "http: a connection failed with an exception, closed it ({} such in the last "
          "interval; last: {})",
          count, e.what());
    });
  }
}

void HttpServer::State::note_tls_failure(const boost::system::error_code& ec,
                                         const std::string& address, std::string_view when) {
  ++metrics.tls_failures;
  tls_log.note(steady_now_ms(), [&](std::uint64_t count) {
    spdlog::warn(
        "http: closed {} TLS connections that failed in the last interval (last: {} {}: {}); a "
        "client must use https:// and wss:// on this port",
        count, address, when, ec.message());
  });
}

asio::awaitable<bool> HttpServer::State::start_stream(beast::tcp_stream&, std::chrono::milliseconds,
                                                      const std::string&) {
  co_return true;
}

asio::awaitable<bool> HttpServer::State::start_stream(TlsStream& stream,
                                                      std::chrono::milliseconds deadline,
                                                      const std::string& address) {
  beast::get_lowest_layer(stream).expires_after(deadline);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, kUseTuple);
  if (!ec) co_return true;
  // A client that sent nothing in time, plain HTTP, or bytes that are not TLS: all the same to
  // the node, which closes the connection without a word (it has no channel to say one in).
  if (ec == beast::error::timeout) {
    note_tls_failure(ec, address, "handshake past its deadline");
  } else if (!is_disconnect(ec) && ec != asio::ssl::error::stream_truncated) {
    note_tls_failure(ec, address, "handshake");
  }
  co_return false;
}

asio::awaitable<void> HttpServer::State::finish_stream(beast::tcp_stream& stream) {
  boost::system::error_code ignore;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
  co_return;
}

asio::awaitable<void> HttpServer::State::finish_stream(TlsStream& stream) {
  // close_notify tells the client that the answer is whole; a client that does not answer it
  // (most just close) is not waited for past the deadline.
  beast::get_lowest_layer(stream).expires_after(kTlsShutdownTimeout);
  co_await stream.async_shutdown(kUseTuple);
  boost::system::error_code ignore;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignore);
}

namespace {

// True for an error of the TLS layer (a failed handshake, a broken record), as opposed to the
// TCP connection's; a peer that closed without TLS's close_notify is a disconnect, not this.
bool is_tls_failure(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         (ec.category() == asio::ssl::error::get_stream_category() &&
          ec != asio::ssl::error::stream_truncated);
}

// Paths that a monitor reads: answered even on a node with no connection left for the API.
bool is_health_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  return target == "/healthz" || target == "/readyz" || target == "/metrics";
}

}  // namespace

template <class Stream>
asio::awaitable<void> HttpServer::State::serve_connection(Stream& stream,
                                                          const std::string& address) {
  // stop() closes the connection through its TCP layer, listed while the connection lives.
  beast::tcp_stream& tcp_layer = beast::get_lowest_layer(stream);
  streams.insert(&tcp_layer);
  struct Unlist {
    std::set<beast::tcp_stream*>& streams;
    beast::tcp_stream* stream;
    ~Unlist() { streams.erase(stream); }
  } unlist{streams, &tcp_layer};
  // Past the connection limit, a connection may still ask for health or metrics, once and
  // quickly; past the reserve for that, it is closed unanswered (before any TLS handshake, which
  // costs the node more than the client).
  const bool over_limit = metrics.connections_open > limits.max_connections;
  if (metrics.connections_open > limits.max_connections + limits.health_reserve_connections) {
    ++metrics.connections_refused;
    co_return;
  }
  if (!co_await start_stream(stream, over_limit ? kOverLimitTimeout : limits.tls_handshake_timeout,
                             address)) {
    co_return;
  }
  const auto refuse_full = [&]() -> asio::awaitable<void> {
    ++metrics.connections_refused;
    Response res = Api::error(ErrorCode::kTooManyConnections);
    res.keep_alive(false);
    res.prepare_payload();
    tcp_layer.expires_after(kRefusalWriteTimeout);
    co_await http::async_write(stream, res, kUseTuple);
  };

  beast::flat_buffer buffer = make_read_buffer(limits.request);
  bool peer_gone = false;  // nothing more to say to it, not even TLS's close_notify
  for (;;) {
    RequestParser parser(limits.request);
    tcp_layer.expires_after(over_limit ? kOverLimitTimeout : limits.request_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (is_disconnect(ec) || ec == asio::ssl::error::stream_truncated) {
      peer_gone = true;
      break;
    }
    if (is_tls_failure(ec)) {
      note_tls_failure(ec, address, "reading a request");
      peer_gone = true;
      break;
    }
    if (ec) {
      // Malformed or oversized: say why once, then close; nothing reached the API.
      const ReadRefusal why = parser.refusal(ec);
      Response res = Api::error(why);
      ++metrics.http_client_errors;
      res.keep_alive(false);
      res.prepare_payload();
      tcp_layer.expires_after(kRefusalWriteTimeout);
      co_await http::async_write(stream, res, kUseTuple);
      break;
    }
    Request req = parser.release();
    const bool health = is_health_path(req.target());
    if (over_limit && !health) {
      co_await refuse_full();
      co_return;
    }
    if (websocket::is_upgrade(req)) {
      co_await serve_websocket(stream, std::move(req), address);
      co_return;
    }
    Response res;
    const bool exempt = health || api.is_admin(req);  // monitors and the operator
    const std::int64_t wait = exempt ? 0 : budgets->requests().take(address, 1, steady_now_ms());
    if (wait > 0) {
      budgets->count_refusal();
      res = Api::too_many(wait, "requests");
    } else {
      res = co_await api.handle(req, address);
    }
    res.version(req.version());
    res.keep_alive(req.keep_alive() && !stopped && !over_limit);
    if (req.method() == http::verb::head) {
      res.content_length(res.body().size());
      res.body().clear();
    } else {
      res.prepare_payload();
    }
    tcp_layer.expires_after(limits.request_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kUseTuple);
    if (wec) {
      peer_gone = true;
      break;
    }
    if (!res.keep_alive()) break;
  }
  if (!peer_gone) co_await finish_stream(stream);
}

}  // namespace minotaur::gateway
