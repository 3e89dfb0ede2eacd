// A WebSocket session of the HTTP server: subscriptions that push each game version once, in
// order; "act" messages run concurrently (pipelined), each answer carrying the message's "id";
// writes with a deadline, a bounded queue of pushes, and a grace time for sockets that name no
// user. The same code over plain TCP and over TLS (instantiated for both at the end).
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <map>
#include <optional>

#include "base/clock.h"
#include "gateway/http_server_impl.h"
#include "gateway/json_fields.h"
#include "gateway/ws_message.h"

namespace minotaur::gateway {

namespace websocket = beast::websocket;
using namespace asio::experimental::awaitable_operators;

// The close frame to a client whose queue overflowed: polite, but never waited on for long.
constexpr std::chrono::milliseconds kWsCloseTimeout{1'000};

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

template <class Stream>
asio::awaitable<void> HttpServer::State::serve_websocket(Stream& stream, Request request,
                                                         const std::string& address) {
  beast::tcp_stream& tcp_layer = beast::get_lowest_layer(stream);
  tcp_layer.expires_never();
  websocket::stream<Stream&> ws(stream);
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
        deadline.arm(tcp_layer, limits.ws_write_timeout);
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
        deadline.arm(tcp_layer, kWsCloseTimeout);
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
    tcp_layer.socket().close(ignore);
  };
  co_await (reader() || writer() || idle_watch());
  for (const auto& [id, listener] : client->subscriptions) host.unsubscribe(id, listener);
  --metrics.websockets_open;
}

template asio::awaitable<void> HttpServer::State::serve_websocket(beast::tcp_stream&, Request,
                                                                  const std::string&);
template asio::awaitable<void> HttpServer::State::serve_websocket(TlsStream&, Request,
                                                                  const std::string&);

}  // namespace minotaur::gateway
