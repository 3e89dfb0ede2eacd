// HttpServer::State: what the HTTP server (http_server.cc) and its WebSocket sessions
// (http_websocket.cc) share: the listener, the open connections, the limits and the metrics.
// Not for use outside gateway/.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <memory>
#include <set>
#include <string>

#include "base/log_throttle.h"
#include "gateway/http_server.h"

namespace minotaur::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::ip::tcp;

inline constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
inline constexpr std::int64_t kRepeatedLogIntervalMs = 10'000;

struct HttpServer::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io_in, Api& api_in, sessions::Router& host_in, GatewayMetrics& metrics_in,
        ServerLimits limits_in)
      : io(io_in),
        api(api_in),
        host(host_in),
        metrics(metrics_in),
        limits(limits_in),
        budgets(api_in.budgets()),
        acceptor(io_in) {}

  asio::io_context& io;
  Api& api;
  sessions::Router& host;
  GatewayMetrics& metrics;
  ServerLimits limits;
  std::shared_ptr<ClientBudgets> budgets;  // the Api's, kept while a connection lives
  tcp::acceptor acceptor;
  std::set<beast::tcp_stream*> streams;  // open connections, to close on stop()
  bool stopped = false;
  LogThrottle failure_log{kRepeatedLogIntervalMs};
  LogThrottle accept_log{kRepeatedLogIntervalMs};
  LogThrottle refused_log{kRepeatedLogIntervalMs};

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  asio::awaitable<void> serve_connection(beast::tcp_stream& stream, const std::string& address);
  asio::awaitable<void> serve_websocket(beast::tcp_stream& stream, Request request,
                                        const std::string& address);
};

}  // namespace minotaur::gateway
