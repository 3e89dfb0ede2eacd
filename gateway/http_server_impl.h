// HttpServer::State: what the HTTP server (http_server.cc) and its WebSocket sessions
// (http_websocket.cc) share: the listener, the open connections, the limits and the metrics.
// Not for use outside gateway/.
//
// One connection's code is templated over its stream: beast::tcp_stream (plain HTTP) or
// TlsStream (HTTPS). What differs between the two is in two overloads, start_stream (the TLS
// handshake) and finish_stream (TLS's close_notify); serve_websocket is instantiated for both in
// http_websocket.cc.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <set>
#include <string>

#include "base/log_throttle.h"
#include "gateway/http_server.h"

namespace minotaur::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

inline constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
inline constexpr std::int64_t kRepeatedLogIntervalMs = 10'000;

struct HttpServer::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io_in, Api& api_in, sessions::Router& host_in, GatewayMetrics& metrics_in,
        ServerLimits limits_in, std::shared_ptr<asio::ssl::context> tls_in)
      : io(io_in),
        api(api_in),
        host(host_in),
        metrics(metrics_in),
        limits(limits_in),
        budgets(api_in.budgets()),
        tls(std::move(tls_in)),
        acceptor(io_in) {}

  asio::io_context& io;
  Api& api;
  sessions::Router& host;
  GatewayMetrics& metrics;
  ServerLimits limits;
  std::shared_ptr<ClientBudgets> budgets;   // the Api's, kept while a connection lives
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP
  tcp::acceptor acceptor;
  std::set<beast::tcp_stream*> streams;  // open connections (their TCP layer), to close on stop()
  bool stopped = false;
  LogThrottle failure_log{kRepeatedLogIntervalMs};
  LogThrottle accept_log{kRepeatedLogIntervalMs};
  LogThrottle refused_log{kRepeatedLogIntervalMs};
  LogThrottle tls_log{kRepeatedLogIntervalMs};

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  // Stream: beast::tcp_stream or TlsStream.
  template <class Stream>
  asio::awaitable<void> serve_connection(Stream& stream, const std::string& address);
  template <class Stream>
  asio::awaitable<void> serve_websocket(Stream& stream, Request request,
                                        const std::string& address);

  // Before the first request: nothing for plain HTTP; the TLS handshake within `deadline`.
  // False when the connection is to be closed (the failure counted and logged).
  asio::awaitable<bool> start_stream(beast::tcp_stream& stream, std::chrono::milliseconds deadline,
                                     const std::string& address);
  asio::awaitable<bool> start_stream(TlsStream& stream, std::chrono::milliseconds deadline,
                                     const std::string& address);
  // After the last answer: half-closes the connection (TLS: close_notify first, bounded).
  asio::awaitable<void> finish_stream(beast::tcp_stream& stream);
  asio::awaitable<void> finish_stream(TlsStream& stream);
  // A read or write on a TLS connection failed in TLS (not the peer going away): counted and
  // logged, throttled, with the handshake failures.
  void note_tls_failure(const boost::system::error_code& ec, const std::string& address,
                        std::string_view when);
};

}  // namespace minotaur::gateway
