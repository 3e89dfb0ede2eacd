#include "gateway/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "base/clock.h"
#include "base/log_throttle.h"
#include "game/validate.h"
#include "gateway/json_fields.h"
#include "gateway/request_parser.h"
#include "gateway/ws_message.h"

namespace minotaur::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::int64_t kRepeatedLogIntervalMs = 10'000;
// The close frame to a client whose queue overflowed: polite, but never waited on for long.
constexpr std::chrono::milliseconds kWsCloseTimeout{1'000};
// After accept() fails (no file descriptor left, say), wait this long, doubling up to the max.
constexpr std::int64_t kAcceptBackoffInitialMs = 10;
constexpr std::int64_t kAcceptBackoffMaxMs = 1'000;

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

namespace {

// One WebSocket client: its pushes wait in `queue`, `wake` tells the writer there are some.
struct WsClient {
  explicit WsClient(asio::any_io_executor ex) : wake(ex) {
    wake.expires_at(asio::steady_timer::time_point::max());
  }
  std::deque<std::string> queue;
  asio::steady_timer wake;
  bool overflowed = false;
  std::map<std::string, std::uint64_t> subscriptions;  // game id -> listener id
  std::map<std::string, std::uint64_t> last_version;   // game id -> last version pushed
  std::size_t calls_in_flight = 0;                     // "act" messages not yet answered
  bool authenticated = false;  // the socket's token, or an "act" message's, named a user

  void push(std::string text, std::size_t limit) {
    if (queue.size() >= limit) {
      overflowed = true;
    } else {
      queue.push_back(std::move(text));
    }
    wake.cancel();
  }
};

// A deadline for one write on a WebSocket: when it passes, the socket is closed, which ends the
// write at once (a write that waits on a client that does not read cannot be cancelled
// otherwise). A deadline that already fired when it is disarmed may still run its handler
// later; `armed`, shared with the handler, tells it the stream may be gone by then.
struct WriteDeadline {
  explicit WriteDeadline(asio::any_io_executor ex) : timer(ex) {}
  ~WriteDeadline() { disarm(); }
  void arm(beast::tcp_stream& stream, std::chrono::milliseconds after) {
    armed = std::make_shared<bool>(true);
    timer.expires_after(after);
    timer.async_wait([armed = armed, fired = fired, &stream](const boost::system::error_code& ec) {
      if (ec || !*armed) return;
      *fired = true;
      boost::system::error_code ignore;
      stream.socket().close(ignore);
    });
  }
  void disarm() {
    if (armed) *armed = false;
    timer.cancel();
  }
  bool has_fired() const { return *fired; }

  asio::steady_timer timer;
  std::shared_ptr<bool> armed;
  std::shared_ptr<bool> fired = std::make_shared<bool>(false);
};

// An error event; `call_id` echoes the "id" of the message it answers, when it had one.
std::string ws_error(ErrorCode code, std::string_view message,
                     std::optional<std::int64_t> call_id = std::nullopt) {
  const std::string_view name = sessions::info(code).name;
  boost::json::object o{{"event", "error"},
                        {"error", boost::json::object{{"code", name}, {"message", message}}}};
  if (call_id) o["id"] = *call_id;
  return boost::json::serialize(o);
}

// One "act" message, run beside the socket's reader so that calls are pipelined. `client`
// outlives the socket if need be: an answer for a closed socket is queued and dropped with it.
asio::awaitable<void> run_ws_act(Api& api, std::shared_ptr<WsClient> client, std::size_t limit,
                                 std::optional<std::int64_t> call_id, std::string game_id,
                                 sessions::Caller caller, boost::json::value action) {
  auto g = co_await api.act(std::move(game_id), std::move(caller), std::move(action));
  --client->calls_in_flight;
  if (!g) {
    client->push(ws_error(g.error().code, g.error().message, call_id), limit);
    co_return;
  }
  boost::json::object ack{{"event", "ack"}};
  if (call_id) ack["id"] = *call_id;
  ack["game"] = std::move(g).value();
  client->push(boost::json::serialize(ack), limit);
}

}  // namespace

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

asio::awaitable<void> HttpServer::State::serve_websocket(beast::tcp_stream& stream, Request request,
                                                         const std::string& address) {
  stream.expires_never();
  websocket::stream<beast::tcp_stream&> ws(stream);
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.read_message_max(limits.max_ws_message_bytes);
  auto [aec] = co_await ws.async_accept(request, kUseTuple);
  if (aec) co_return;
  ++metrics.websockets_open;

  // Actions on this socket act for the user of the upgrade request's bearer token, unless a
  // message names its own "token".
  const std::optional<sessions::Caller> socket_caller = api.caller_of(request);
  auto client = std::make_shared<WsClient>(io.get_executor());
  const auto refuse = [&](const WsRefusal& r) {
    client->push(ws_error(r.code, r.message, r.id), limits.max_ws_queued_pushes);
  };
  auto reader = [&]() -> asio::awaitable<void> {
    beast::flat_buffer buf;
    for (;;) {
      auto [ec, n] = co_await ws.async_read(buf, kUseTuple);
      if (ec) co_return;
      const std::string text = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
      if (const auto wait = budgets->requests().take(address, 1, steady_now_ms())) {
        budgets->count_refusal();
        refuse({ErrorCode::kRateLimited,
                fmt::format("too many messages from this client; retry in {} ms", wait),
                std::nullopt});
        continue;
      }
      auto command = parse_ws_message(text);
      if (!command) {
        refuse(command.error());
        continue;
      }
      WsCommand& c = command.value();
      const std::string& id = c.game_id;
      switch (c.op) {
        case WsCommand::Op::kAct: {
          std::optional<sessions::Caller> caller = socket_caller;
          if (c.token) caller = api.caller_of_token(*c.token);
          if (!caller || caller->admin) {
            refuse({ErrorCode::kUnauthorized,
                    "open the socket with 'Authorization: Bearer TOKEN' or give \"token\" in the "
                    "message, a token from POST /api/v1/users",
                    c.id});
          } else if (client->calls_in_flight >= limits.max_ws_calls_in_flight) {
            refuse({ErrorCode::kTooManyCalls,
                    "too many actions in flight on this socket; wait for answers before "
                    "sending more",
                    c.id});
          } else {
            client->authenticated = true;
            ++client->calls_in_flight;
            asio::co_spawn(io,
                           run_ws_act(api, client, limits.max_ws_queued_pushes, c.id, id,
                                      std::move(caller).value(), std::move(c.action)),
                           asio::detached);
          }
          break;
        }
        case WsCommand::Op::kSubscribe: {
          if (client->subscriptions.count(id) != 0) break;
          if (client->subscriptions.size() >= limits.max_ws_subscriptions) {
            refuse({ErrorCode::kTooManySubscriptions,
                    "unsubscribe from a game before subscribing to another", c.id});
            break;
          }
          auto exists = co_await host.get_game(id);
          if (!exists) {
            refuse({exists.error().code, exists.error().message, c.id});
            break;
          }
          std::weak_ptr<WsClient> weak = client;
          const std::size_t limit = limits.max_ws_queued_pushes;
          GatewayMetrics* m = &metrics;
          client->subscriptions[id] =
              host.subscribe(id, [weak, limit, m](const sessions::GameView& v) {
                if (auto cl = weak.lock()) {
                  // Each version once, in order: around a hand-off the same state can arrive
                  // twice (from the old owner, and as the new owner's first push).
                  auto [last, fresh] = cl->last_version.try_emplace(v.game.id, v.game.version);
                  if (!fresh) {
                    if (v.game.version <= last->second) return;
                    last->second = v.game.version;
                  }
                  ++m->websocket_pushes;
                  cl->push(boost::json::serialize(
                               boost::json::object{{"event", "game"}, {"game", game_view_json(v)}}),
                           limit);
                }
              });
          break;
        }
        case WsCommand::Op::kUnsubscribe: {
          auto it = client->subscriptions.find(id);
          if (it != client->subscriptions.end()) {
            host.unsubscribe(id, it->second);
            client->subscriptions.erase(it);
          }
          break;
        }
      }
    }
  };
  // Writes have a deadline: a client that stops reading fills its TCP window, and a write
  // without one would wait for ever while its pushes pile up. Past the deadline, or past the
  // queue's limit, the socket is closed at once, without another write that could block too.
  auto writer = [&]() -> asio::awaitable<void> {
    WriteDeadline deadline(io.get_executor());
    for (;;) {
      while (!client->queue.empty() && !client->overflowed) {
        ws.text(true);
        deadline.arm(stream, limits.ws_write_timeout);
        auto [ec, n] = co_await ws.async_write(asio::buffer(client->queue.front()), kUseTuple);
        deadline.disarm();
        if (deadline.has_fired()) {
          ++metrics.websockets_too_slow;
          spdlog::info("websocket: a write waited {} ms for the client to read; closed it",
                       limits.ws_write_timeout.count());
          co_return;
        }
        if (ec) co_return;
        client->queue.pop_front();
      }
      if (client->overflowed) {
        ++metrics.websockets_too_slow;
        spdlog::info("websocket: client too slow to read its pushes; closing it");
        deadline.arm(stream, kWsCloseTimeout);
        co_await ws.async_close(websocket::close_reason(websocket::close_code::try_again_later,
                                                        "too slow; resubscribe"),
                                kUseTuple);
        deadline.disarm();
        co_return;
      }
      client->wake.expires_at(asio::steady_timer::time_point::max());
      co_await client->wake.async_wait(kUseTuple);
      if (stopped) co_return;
    }
  };
  // A socket that names no user and watches no game within its grace time is closed: idle
  // unauthenticated sockets would otherwise hold connection slots for nothing.
  client->authenticated = socket_caller.has_value();
  auto idle_watch = [&]() -> asio::awaitable<void> {
    asio::steady_timer t(io);
    t.expires_after(limits.ws_unauthenticated_idle);
    co_await t.async_wait(kUseTuple);
    if (client->authenticated || !client->subscriptions.empty()) {
      t.expires_at(asio::steady_timer::time_point::max());
      co_await t.async_wait(kUseTuple);  // until the socket ends otherwise
      co_return;
    }
    ++metrics.websockets_idle_closed;
    boost::system::error_code ignore;
    stream.socket().close(ignore);
  };
  co_await (reader() || writer() || idle_watch());
  for (const auto& [id, listener] : client->subscriptions) host.unsubscribe(id, listener);
  --metrics.websockets_open;
}

}  // namespace minotaur::gateway
