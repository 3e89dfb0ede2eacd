// The HTTP API of docs/SPEC.md section 3, without the sockets: a request in, a response out.
//
// Every route, the error format ({"error": {"code", "message"}}), authentication (user tokens,
// the admin token) and the mapping of session errors to statuses live here; http_server.h owns
// connections and limits. Handlers never throw on input and never change state on a refused
// request. Thread: the node's io_context thread, like the SessionHost it calls.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/metrics.h"
#include "gateway/client_budgets.h"
#include "gateway/tokens.h"
#include "sessions/router.h"

namespace minotaur::gateway {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using sessions::ErrorCode;

// The API's and the server's counters, held in the node's registry (base/metrics.h) under
// their names in GET /metrics; the API and the server count with them together.
struct GatewayMetrics {
  explicit GatewayMetrics(Metrics& registry);
  Metrics::Value& http_requests;
  Metrics::Value& http_client_errors;  // 4xx
  Metrics::Value& http_server_errors;  // 5xx
  Metrics::Value& connections_open;
  Metrics::Value& connections_refused;  // over the connection limit
  Metrics::Value& connections_failed;   // ended by an exception (logged, closed)
  Metrics::Value& accept_errors;        // accept() failed (out of file descriptors, ...)
  Metrics::Value& tls_failures;  // TLS connections closed: a failed or late handshake, a bad record
  Metrics::Value& websockets_open;
  Metrics::Value& websocket_pushes;
  Metrics::Value& websockets_too_slow;     // closed: a write past its deadline, or queue overflow
  Metrics::Value& websockets_idle_closed;  // closed: no user and no subscription in time
};

struct ApiOptions {
  std::string node_name;
  std::string admin_token;  // empty: admin calls are refused
  std::int64_t token_lifetime_ms = kTokenLifetimeMs;
  std::function<std::int64_t()> wall_clock_ms;
  // GET /readyz: why this node is not ready (a word, e.g. "no_quorum"), or empty when it is.
  std::function<std::string()> not_ready;
  std::function<boost::json::object()> cluster_view;  // GET /api/v1/cluster
  BudgetLimits budgets;                               // per client address and per user
  // POST /api/v1/admin/members/{name}/remove (admin): an operator removes a member that is gone
  // for good (cluster/membership.h, Membership::remove). The answer's JSON, or why not. None:
  // the path answers 404.
  std::function<Result<boost::json::object, sessions::SessionError>(const std::string& name,
                                                                    bool force)>
      remove_member;
  // POST /api/v1/admin/drain (admin): this node starts its graceful stop, as on SIGTERM; the
  // answer's JSON. None: the path answers 404.
  std::function<boost::json::object()> drain;
  // GET /api/v1/admin/sessions (admin): the sessions this node hosts now. None: 404.
  std::function<boost::json::object()> sessions;
};

class Api {
 public:
  // GET /metrics renders `registry`, to which the API adds its budgets' refusals.
  Api(sessions::Router& host, const TokenSigner& signer, GatewayMetrics& metrics, Metrics& registry,
      ApiOptions options);

  // `client_address`: the TCP peer's address, for the per-address budgets.
  boost::asio::awaitable<Response> handle(const Request& request,
                                          const std::string& client_address);

  // A JSON error response with the code's status from the table of errors (sessions/errors.h),
  // and its message there unless `message` says more.
  static Response error(ErrorCode code, std::string_view message = {});
  static Response error(const sessions::SessionError& e);

  // The caller a request's `Authorization: Bearer` header names (also the WebSocket upgrade's);
  // nullopt when missing or invalid.
  std::optional<sessions::Caller> caller_of(const Request& request) const;
  // Whether the request carries the admin token (the per-address budgets do not apply to it).
  bool is_admin(const Request& request) const;
  // The caller a bearer token names (the admin token or a user token); nullopt when invalid.
  std::optional<sessions::Caller> caller_of_token(std::string_view token) const;

  // Why a call was refused: the code and message of the error JSON.
  struct Refusal {
    ErrorCode code;
    std::string message;
    std::int64_t retry_after_ms = 0;  // rate_limited: when the call would pass
  };
  // Registers an action (`action`: the JSON of POST /api/v1/games/{id}/actions) for `caller` in
  // game `game_id`: the game's JSON after the change, or why not. The one path for actions,
  // shared by HTTP and the WebSocket's "act"; it spends the caller's call budget.
  boost::asio::awaitable<Result<boost::json::object, Refusal>> act(std::string game_id,
                                                                   sessions::Caller caller,
                                                                   boost::json::value action);

  // What the server itself checks: connections and requests per address.
  // Shared: a connection's coroutine may end after the Api is gone (at the node's shutdown),
  // and it still gives its connection back.
  const std::shared_ptr<ClientBudgets>& budgets() { return budgets_; }

  // 429 with Retry-After, for a budget that `wait_ms` would refill.
  static Response too_many(std::int64_t wait_ms, std::string_view what);

 private:
  boost::asio::awaitable<Response> route(const Request& request, const std::string& address);

  sessions::Router& host_;
  const TokenSigner& signer_;
  GatewayMetrics& metrics_;
  const Metrics& registry_;
  ApiOptions options_;
  std::shared_ptr<ClientBudgets> budgets_;
};

// The JSON of a game as the API returns it: the game plus "node" and "epoch".
boost::json::object game_view_json(const sessions::GameView& view);

}  // namespace minotaur::gateway
