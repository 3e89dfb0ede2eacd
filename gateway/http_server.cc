// HttpServer: listening, accepting (with back-off when out of file descriptors), one
// connection's requests in order (keep-alive, pipelining), and the limits on connections and
// requests. A WebSocket upgrade goes to serve_websocket (http_websocket.cc).
#include "gateway/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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

HttpServer::HttpServer(asio::io_context& io, Api& api, sessions::Router& host,
                       GatewayMetrics& metrics, ServerLimits limits)
    : state_(std::make_shared<State>(io, api, host, metrics, limits)) {}

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
  beast::tcp_stream stream(std::move(socket));
  streams.insert(&stream);
  ++metrics.connections_open;
  struct Guard {
    State& s;
    beast::tcp_stream& stream;
    const std::string& address;
    ~Guard() {
      s.streams.erase(&stream);
      s.budgets->close_connection(address);
      // After stop() the node's metrics may be gone: the io_context destroys what is left of
      // the coroutines last.
      if (!s.stopped) --s.metrics.connections_open;
    }
  } guard{*this, stream, address};
  // The one catch of a connection: whatever its own code throws on a client's input ends this
  // connection, never the node. (Beast's completion handlers run outside this frame; the
  // parser they call does not throw, see request_parser.h.)
  try {
    co_await serve_connection(stream, address);
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

namespace {

// Paths that a monitor reads: answered even on a node with no connection left for the API.
bool is_health_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  return target == "/healthz" || target == "/readyz" || target == "/metrics";
}

}  // namespace

asio::awaitable<void> HttpServer::State::serve_connection(beast::tcp_stream& stream,
                                                          const std::string& address) {
  // Past the connection limit, a connection may still ask for health or metrics, once and
  // quickly; past the reserve for that, it is closed unanswered.
  const bool over_limit = metrics.connections_open > limits.max_connections;
  if (metrics.connections_open > limits.max_connections + limits.health_reserve_connections) {
    ++metrics.connections_refused;
    co_return;
  }
  const auto refuse_full = [&]() -> asio::awaitable<void> {
    ++metrics.connections_refused;
    Response res = Api::error(ErrorCode::kTooManyConnections);
    res.keep_alive(false);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(2));
    co_await http::async_write(stream, res, kUseTuple);
  };

  beast::flat_buffer buffer = make_read_buffer(limits.request);
  for (;;) {
    RequestParser parser(limits.request);
    stream.expires_after(over_limit ? std::chrono::milliseconds(2'000) : limits.request_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (is_disconnect(ec)) break;
    if (ec) {
      // Malformed or oversized: say why once, then close; nothing reached the API.
      const ReadRefusal why = parser.refusal(ec);
      Response res = Api::error(why);
      ++metrics.http_client_errors;
      res.keep_alive(false);
      res.prepare_payload();
      stream.expires_after(std::chrono::seconds(2));
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
    stream.expires_after(limits.request_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, kUseTuple);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignore;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
}

}  // namespace minotaur::gateway
