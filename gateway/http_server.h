// HttpServer: the HTTP/1.1 and WebSocket front door of a node (Boost.Beast, Asio coroutines).
//
// Owns the listening socket and every client connection; hands each request to Api and each
// WebSocket to a subscription loop over SessionHost. Limits, all enforced here: request header
// bytes, body bytes, open connections, time to read a request (slow clients are cut off), the
// WebSocket message size, subscriptions per socket, queued pushes per socket (a client that
// does not read its pushes is disconnected; it reconnects and resubscribes from its version),
// and actions in flight per socket. A WebSocket's "act" messages run concurrently (pipelined);
// each answer carries the message's "id".
// Keep-alive and pipelining: requests on one connection are answered in order.
// With TLS (server_tls.h) every connection first completes a TLS handshake within its deadline;
// the same code then serves it (templated over the stream), with the same limits. A connection
// whose handshake fails (plain HTTP or garbage on the TLS port, say) is closed unanswered.
//
// Thread: everything runs on the io_context given to the constructor, which must be driven by
// one thread (the same one as SessionHost).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "gateway/api.h"
#include "gateway/request_parser.h"
#include "gateway/server_tls.h"

namespace minotaur::gateway {

struct ServerLimits {
  std::size_t max_connections = 10'000;
  RequestLimits request;  // header and body bytes of one request
  std::chrono::milliseconds request_timeout{15'000};  // to read one request, and keep-alive idle
  std::size_t max_ws_message_bytes = 16 * 1024;
  std::size_t max_ws_subscriptions = 16;
  std::size_t max_ws_queued_pushes = 1024;
  std::size_t max_ws_calls_in_flight = 256;  // "act" messages not yet answered, per socket
  // One WebSocket write: a client that does not read for this long is disconnected.
  std::chrono::milliseconds ws_write_timeout{10'000};
  // A WebSocket without a user token and without a subscription is closed after this.
  std::chrono::milliseconds ws_unauthenticated_idle{10'000};
  // Connections past max_connections that may still read /healthz, /readyz or /metrics.
  std::size_t health_reserve_connections = 64;
  // With TLS: from accept to a finished handshake (2 s past max_connections, as for a request).
  std::chrono::milliseconds tls_handshake_timeout{5'000};
};

class HttpServer {
 public:
  // `tls`: every connection speaks TLS with this context (HTTPS, WSS); none: plain HTTP.
  HttpServer(boost::asio::io_context& io, Api& api, sessions::Router& host, GatewayMetrics& metrics,
             ServerLimits limits = {}, std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~HttpServer();

  // Binds and starts accepting; the bound endpoint (port 0 picks a free one).
  Result<boost::asio::ip::tcp::endpoint, std::string> listen(const std::string& host,
                                                             std::uint16_t port);
  // Stops accepting and closes every connection.
  void stop();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace minotaur::gateway
