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

#include "game/validate.h"
#include "gateway/json_fields.h"

namespace minotaur::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

struct HttpServer::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io_in, Api& api_in, sessions::Router& host_in, GatewayMetrics& metrics_in,
        ServerLimits limits_in)
      : io(io_in),
        api(api_in),
        host(host_in),
        metrics(metrics_in),
        limits(limits_in),
        acceptor(io_in) {}

  asio::io_context& io;
  Api& api;
  sessions::Router& host;
  GatewayMetrics& metrics;
  ServerLimits limits;
  tcp::acceptor acceptor;
  std::set<beast::tcp_stream*> streams;  // open connections, to close on stop()
  bool stopped = false;

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  asio::awaitable<void> serve_websocket(beast::tcp_stream& stream, Request request);
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

  void push(std::string text, std::size_t limit) {
    if (queue.size() >= limit) {
      overflowed = true;
    } else {
      queue.push_back(std::move(text));
    }
    wake.cancel();
  }
};

// An error event; `call_id` echoes the "id" of the message it answers, when it had one.
std::string ws_error(std::string_view code, std::string_view message,
                     std::optional<std::int64_t> call_id = std::nullopt) {
  boost::json::object o{{"event", "error"},
                        {"error", boost::json::object{{"code", code}, {"message", message}}}};
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
  while (!stopped) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (ec) {
      if (stopped) break;
      spdlog::warn("http: accept failed: {}", ec.message());
      continue;
    }
    asio::co_spawn(io, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::State::serve(tcp::socket socket) {
  auto self = shared_from_this();
  beast::tcp_stream stream(std::move(socket));
  streams.insert(&stream);
  ++metrics.connections_open;
  struct Guard {
    State& s;
    beast::tcp_stream& stream;
    ~Guard() {
      s.streams.erase(&stream);
      --s.metrics.connections_open;
    }
  } guard{*this, stream};

  if (metrics.connections_open > limits.max_connections) {
    ++metrics.connections_refused;
    Response res = Api::error(http::status::service_unavailable, "too_many_connections",
                              "this node has too many open connections; retry or use another node");
    res.keep_alive(false);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(2));
    co_await http::async_write(stream, res, kUseTuple);
    co_return;
  }

  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(limits.max_header_bytes);
    parser.body_limit(limits.max_body_bytes);
    stream.expires_after(limits.request_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, kUseTuple);
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::error::bad_descriptor) {
      break;
    }
    if (ec) {
      // Malformed or oversized: say why once, then close; nothing reached the API.
      const bool too_large = ec == http::error::body_limit || ec == http::error::header_limit ||
                             ec == http::error::buffer_overflow;
      Response res =
          Api::error(too_large ? http::status::payload_too_large : http::status::bad_request,
                     too_large ? "too_large" : "malformed_request",
                     too_large ? "the request is larger than this node accepts"
                               : "the request is not valid HTTP/1.1: " + ec.message());
      ++metrics.http_client_errors;
      res.keep_alive(false);
      res.prepare_payload();
      stream.expires_after(std::chrono::seconds(2));
      co_await http::async_write(stream, res, kUseTuple);
      break;
    }
    Request req = parser.release();
    if (websocket::is_upgrade(req)) {
      co_await serve_websocket(stream, std::move(req));
      co_return;
    }
    Response res = co_await api.handle(req);
    res.version(req.version());
    res.keep_alive(req.keep_alive() && !stopped);
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

asio::awaitable<void> HttpServer::State::serve_websocket(beast::tcp_stream& stream,
                                                         Request request) {
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
  auto reader = [&]() -> asio::awaitable<void> {
    beast::flat_buffer buf;
    for (;;) {
      auto [ec, n] = co_await ws.async_read(buf, kUseTuple);
      if (ec) co_return;
      const std::string text = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
      boost::system::error_code jec;
      const boost::json::value msg = boost::json::parse(text, jec);
      if (jec || !msg.is_object()) {
        client->push(ws_error("bad_request",
                              "send a JSON object like "
                              "{\"op\":\"subscribe\",\"game_id\":\"g_...\"}"),
                     limits.max_ws_queued_pushes);
        continue;
      }
      const JsonFields f(msg.get_object(), "");
      auto op = f.require_string("op");
      auto game_id = f.require_string("game_id");
      auto call_id = f.optional_int("id", 0, std::int64_t{1} << 53);
      const std::optional<std::int64_t> echo_id =
          call_id ? call_id.value() : std::optional<std::int64_t>();
      if (!op || !game_id || !game::is_valid_id(game_id.value()) || !call_id) {
        client->push(ws_error("bad_request",
                              "each message needs \"op\" (subscribe, unsubscribe or act), a "
                              "valid \"game_id\" and, if any, an \"id\" from 0 to 2^53",
                              echo_id),
                     limits.max_ws_queued_pushes);
        continue;
      }
      const std::string& id = game_id.value();
      if (op.value() == "act") {
        auto token = f.optional_string("token");
        const boost::json::value* action = msg.get_object().if_contains("action");
        std::optional<sessions::Caller> caller = socket_caller;
        if (token && token.value()) caller = api.caller_of_token(*token.value());
        if (!caller || caller->admin) {
          client->push(ws_error("unauthorized",
                                "open the socket with 'Authorization: Bearer TOKEN' or give "
                                "\"token\" in the message, a token from POST /api/v1/users",
                                echo_id),
                       limits.max_ws_queued_pushes);
        } else if (action == nullptr) {
          client->push(ws_error("bad_request",
                                "\"act\" needs \"action\", e.g. "
                                "{\"type\":\"move\",\"vector\":{\"q\":1,\"r\":0}}",
                                echo_id),
                       limits.max_ws_queued_pushes);
        } else if (client->calls_in_flight >= limits.max_ws_calls_in_flight) {
          client->push(ws_error("too_many_calls",
                                "too many actions in flight on this socket; wait for answers "
                                "before sending more",
                                echo_id),
                       limits.max_ws_queued_pushes);
        } else {
          ++client->calls_in_flight;
          asio::co_spawn(io,
                         run_ws_act(api, client, limits.max_ws_queued_pushes, echo_id, id,
                                    std::move(caller).value(), *action),
                         asio::detached);
        }
        continue;
      }
      if (op.value() == "subscribe") {
        if (client->subscriptions.count(id) != 0) continue;
        if (client->subscriptions.size() >= limits.max_ws_subscriptions) {
          client->push(ws_error("too_many_subscriptions",
                                "unsubscribe from a game before subscribing to another"),
                       limits.max_ws_queued_pushes);
          continue;
        }
        auto exists = co_await host.get_game(id);
        if (!exists) {
          client->push(ws_error(exists.error().code, exists.error().message),
                       limits.max_ws_queued_pushes);
          continue;
        }
        std::weak_ptr<WsClient> weak = client;
        const std::size_t limit = limits.max_ws_queued_pushes;
        GatewayMetrics* m = &metrics;
        client->subscriptions[id] =
            host.subscribe(id, [weak, limit, m](const sessions::GameView& v) {
              if (auto c = weak.lock()) {
                // Each version once, in order: around a hand-off the same state can arrive
                // twice (from the old owner, and as the new owner's first push).
                auto [last, fresh] = c->last_version.try_emplace(v.game.id, v.game.version);
                if (!fresh) {
                  if (v.game.version <= last->second) return;
                  last->second = v.game.version;
                }
                ++m->websocket_pushes;
                c->push(boost::json::serialize(
                            boost::json::object{{"event", "game"}, {"game", game_view_json(v)}}),
                        limit);
              }
            });
      } else if (op.value() == "unsubscribe") {
        auto it = client->subscriptions.find(id);
        if (it != client->subscriptions.end()) {
          host.unsubscribe(id, it->second);
          client->subscriptions.erase(it);
        }
      } else {
        client->push(ws_error("bad_request", "op must be \"subscribe\", \"unsubscribe\" or \"act\"",
                              echo_id),
                     limits.max_ws_queued_pushes);
      }
    }
  };
  auto writer = [&]() -> asio::awaitable<void> {
    for (;;) {
      while (!client->queue.empty() && !client->overflowed) {
        ws.text(true);
        auto [ec, n] = co_await ws.async_write(asio::buffer(client->queue.front()), kUseTuple);
        if (ec) co_return;
        client->queue.pop_front();
      }
      if (client->overflowed) {
        spdlog::info("websocket: client too slow to read its pushes; closing it");
        co_await ws.async_close(websocket::close_reason(websocket::close_code::try_again_later,
                                                        "too slow; resubscribe"),
                                kUseTuple);
        co_return;
      }
      client->wake.expires_at(asio::steady_timer::time_point::max());
      co_await client->wake.async_wait(kUseTuple);
      if (stopped) co_return;
    }
  };
  co_await (reader() || writer());
  for (const auto& [id, listener] : client->subscriptions) host.unsubscribe(id, listener);
  --metrics.websockets_open;
}

}  // namespace minotaur::gateway
