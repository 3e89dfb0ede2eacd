#include "gateway/api.h"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <vector>

#include "game/display_name.h"
#include "game/join_code.h"
#include "game/validate.h"
#include "gateway/game_json.h"
#include "gateway/json_fields.h"
#include "gateway/web_assets.h"

namespace minotaur::gateway {
namespace json = boost::json;
using sessions::SessionError;

namespace {

Response make(http::status status, std::string body, std::string_view content_type) {
  Response res{status, 11};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  return res;
}

Response json_response(http::status status, const json::value& v) {
  return make(status, json::serialize(v), "application/json");
}

Response ok_json(const json::value& v) {
  return json_response(http::status::ok, v);
}

std::vector<std::string> path_segments(std::string_view target) {
  std::vector<std::string> out;
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return out;
  for (auto seg : url->segments()) out.push_back(seg);
  return out;
}

}  // namespace

Response Api::error(ErrorCode code, std::string_view message) {
  const sessions::ErrorInfo& row = sessions::info(code);
  if (message.empty()) message = row.message;
  return json_response(
      static_cast<http::status>(row.http_status),
      json::object{{"error", json::object{{"code", row.name}, {"message", message}}}});
}

Response Api::error(const SessionError& e) {
  return error(e.code, e.message);
}

Response Api::too_many(std::int64_t wait_ms, std::string_view what) {
  const std::int64_t seconds = std::max<std::int64_t>(1, (wait_ms + 999) / 1000);
  Response res = error(ErrorCode::kRateLimited,
                       fmt::format("too many {} from this client; retry in {} s", what, seconds));
  res.set(http::field::retry_after, std::to_string(seconds));
  return res;
}

json::object game_view_json(const sessions::GameView& view) {
  json::object o = to_json(view.game);
  o["node"] = view.node;
  o["epoch"] = view.epoch;
  return o;
}

GatewayMetrics::GatewayMetrics(Metrics& m)
    : http_requests(m.held_counter("minotaur_http_requests_total", "HTTP requests answered")),
      http_client_errors(
          m.held_counter("minotaur_http_client_errors_total", "HTTP answers with a 4xx status")),
      http_server_errors(
          m.held_counter("minotaur_http_server_errors_total", "HTTP answers with a 5xx status")),
      connections_open(m.held_gauge("minotaur_http_connections", "client connections open")),
      connections_refused(m.held_counter("minotaur_http_connections_refused_total",
                                         "client connections refused over the connection limit")),
      connections_failed(m.held_counter("minotaur_http_connections_failed_total",
                                        "client connections ended by an exception")),
      accept_errors(m.held_counter("minotaur_http_accept_errors_total",
                                   "failed accepts (out of file descriptors, say)")),
      tls_failures(m.held_counter("minotaur_http_tls_failures_total",
                                  "TLS connections closed: a handshake that failed (plain HTTP "
                                  "or garbage on the TLS port, say) or passed its deadline, or a "
                                  "broken TLS record")),
      websockets_open(m.held_gauge("minotaur_websockets", "WebSocket connections open")),
      websocket_pushes(m.held_counter("minotaur_websocket_pushes_total",
                                      "game changes pushed to WebSocket subscribers")),
      websockets_too_slow(m.held_counter("minotaur_websockets_too_slow_total",
                                         "WebSockets closed: a write past its deadline, or a "
                                         "full queue")),
      websockets_idle_closed(m.held_counter("minotaur_websockets_idle_closed_total",
                                            "WebSockets closed: no user and no subscription in "
                                            "time")) {}

Api::Api(sessions::Router& host, const TokenSigner& signer, GatewayMetrics& metrics,
         Metrics& registry, ApiOptions options)
    : host_(host),
      signer_(signer),
      metrics_(metrics),
      registry_(registry),
      options_(std::move(options)),
      budgets_(std::make_shared<ClientBudgets>(options_.budgets)) {
  MINOTAUR_ASSERT(options_.wall_clock_ms);
  MINOTAUR_ASSERT(options_.not_ready);
  MINOTAUR_ASSERT(options_.cluster_view);
  registry.add_counter("minotaur_client_budget_refusals_total",
                       "calls refused over a client's budget (429)",
                       [budgets = budgets_] { return budgets->refused(); });
}

std::optional<sessions::Caller> Api::caller_of(const Request& req) const {
  const auto auth = req[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.substr(0, kBearer.size()) != kBearer) return std::nullopt;
  return caller_of_token(
      std::string_view(auth.data() + kBearer.size(), auth.size() - kBearer.size()));
}

bool Api::is_admin(const Request& req) const {
  const auto auth = req[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  return !options_.admin_token.empty() && auth.substr(0, kBearer.size()) == kBearer &&
         constant_time_equal(auth.substr(kBearer.size()), options_.admin_token);
}

std::optional<sessions::Caller> Api::caller_of_token(std::string_view token) const {
  if (!options_.admin_token.empty() && constant_time_equal(token, options_.admin_token)) {
    return sessions::Caller{"", "admin", true};
  }
  auto claims = signer_.verify(token, options_.wall_clock_ms());
  if (!claims) return std::nullopt;
  return sessions::Caller{claims.value().user_id, claims.value().display_name, false};
}

boost::asio::awaitable<Result<json::object, Api::Refusal>> Api::act(std::string game_id,
                                                                    sessions::Caller caller,
                                                                    json::value body) {
  if (!game::is_valid_id(game_id)) {
    co_return err(
        Refusal{ErrorCode::kBadRequest, "a game id is 1-64 characters of A-Z a-z 0-9 _ -"});
  }
  auto action = action_from_json(body);
  if (!action) co_return err(Refusal{ErrorCode::kBadRequest, action.error()});
  if (const auto wait = budgets_->calls().take(caller.user_id, 1, options_.wall_clock_ms())) {
    budgets_->count_refusal();
    co_return err(
        Refusal{ErrorCode::kRateLimited, "too many actions from this user; slow down", wait});
  }
  auto g = co_await host_.act(std::move(game_id), std::move(caller), action.value());
  if (!g) co_return err(Refusal{g.error().code, g.error().message});
  co_return game_view_json(g.value());
}

boost::asio::awaitable<Response> Api::handle(const Request& req, const std::string& address) {
  ++metrics_.http_requests;
  // The browser game fails over to other nodes, which are other origins. Tokens are bearer
  // tokens, never cookies, so letting any origin call is safe.
  if (req.method() == http::verb::options) {
    Response pre{http::status::no_content, 11};
    pre.set(http::field::access_control_allow_origin, "*");
    pre.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
    pre.set(http::field::access_control_allow_headers, "Authorization, Content-Type");
    pre.set(http::field::access_control_max_age, "600");
    co_return pre;
  }
  Response res = co_await route(req, address);
  res.set(http::field::access_control_allow_origin, "*");
  const unsigned status = res.result_int();
  if (status >= 400 && status < 500) ++metrics_.http_client_errors;
  if (status >= 500) ++metrics_.http_server_errors;
  co_return res;
}

boost::asio::awaitable<Response> Api::route(const Request& req, const std::string& address) {
  {
    const std::int64_t now_ms = options_.wall_clock_ms();
    // Spends `cost` of a budget; the 429 to answer when it is spent.
    const auto over = [&](TokenBuckets& b, std::string_view key,
                          std::string_view what) -> std::optional<Response> {
      const std::int64_t wait = b.take(key, 1, now_ms);
      if (wait == 0) return std::nullopt;
      budgets_->count_refusal();
      return too_many(wait, what);
    };
    // A join code that names no lobby costs one guess of the address's and the user's budgets;
    // while either is spent, codes are not even looked up.
    const auto guesses_left =
        [&](const std::optional<sessions::Caller>& caller) -> std::optional<Response> {
      std::int64_t wait = budgets_->join_misses_by_address().peek(address, 1, now_ms);
      if (caller) {
        wait = std::max(wait, budgets_->join_misses_by_user().peek(caller->user_id, 1, now_ms));
      }
      if (wait == 0) return std::nullopt;
      budgets_->count_refusal();
      return too_many(wait, "wrong join codes");
    };
    const auto missed = [&](const std::optional<sessions::Caller>& caller) {
      (void)budgets_->join_misses_by_address().take(address, 1, now_ms);
      if (caller) (void)budgets_->join_misses_by_user().take(caller->user_id, 1, now_ms);
    };
    const auto seg = path_segments(req.target());
    const http::verb m = req.method();
    const auto is = [&](std::initializer_list<std::string_view> parts) {
      if (seg.size() != parts.size()) return false;
      std::size_t i = 0;
      for (const std::string_view p : parts) {
        if (p != "*" && seg[i] != p) return false;
        ++i;
      }
      return true;
    };
    const auto method_not_allowed = [] { return error(ErrorCode::kMethodNotAllowed); };
    const auto unauthorized = [] { return error(ErrorCode::kUnauthorized); };
    const auto bad_request = [](std::string_view message) {
      return error(ErrorCode::kBadRequest, message);
    };

    // Health, readiness, metrics: reads only.
    const bool read = m == http::verb::get || m == http::verb::head;
    if ((is({"healthz"}) || is({"readyz"}) || is({"metrics"})) && !read) {
      co_return method_not_allowed();
    }
    if (is({"healthz"})) co_return make(http::status::ok, "ok\n", "text/plain");
    if (is({"readyz"})) {
      const std::string why = options_.not_ready();
      if (why.empty()) co_return make(http::status::ok, "ready\n", "text/plain");
      co_return make(http::status::service_unavailable, "not ready: " + why + "\n", "text/plain");
    }
    if (is({"metrics"})) {
      co_return make(http::status::ok, registry_.render(), "text/plain; version=0.0.4");
    }

    if (seg.size() >= 2 && seg[0] == "api" && seg[1] == "v1") {
      // Users.
      if (is({"api", "v1", "users"})) {
        if (m != http::verb::post) co_return method_not_allowed();
        if (auto r = over(budgets_->users(), address, "new users")) co_return std::move(*r);
        auto body = parse_json(req.body());
        if (!body) co_return bad_request(body.error());
        if (!body.value().is_object()) co_return bad_request("the body must be a JSON object");
        auto name = JsonFields(body.value().get_object(), "").require_string("display_name");
        if (!name) co_return bad_request(name.error());
        if (auto checked = game::check_display_name(name.value()); !checked) {
          co_return bad_request(checked.error());
        }
        std::string user_id = fmt::format(
            "u_{:016x}", std::random_device{}() * 0x100000000ULL + std::random_device{}());
        const TokenClaims claims{user_id, name.value(),
                                 options_.wall_clock_ms() + options_.token_lifetime_ms};
        const std::string token = signer_.issue(claims);
        co_return json_response(http::status::created,
                                json::object{{"user_id", user_id}, {"token", token}});
      }
      if (is({"api", "v1", "cluster"})) {
        if (m != http::verb::get) co_return method_not_allowed();
        co_return ok_json(options_.cluster_view());
      }

      // A test cluster's reset (minotaur node --allow-reset): every session and stash dropped.
      if (is({"api", "v1", "admin", "reset"})) {
        if (m != http::verb::post) co_return method_not_allowed();
        const auto caller = caller_of(req);
        if (!caller) co_return unauthorized();
        if (!caller->admin) {
          co_return error(ErrorCode::kAdminOnly, "a reset takes the admin token");
        }
        auto dropped = co_await host_.reset_all();
        if (!dropped) co_return error(dropped.error());
        co_return ok_json(json::object{{"sessions_dropped", dropped.value()}});
      }

      // An operator stops this node gracefully through the API (minotaur ctl drain), as SIGTERM
      // does: the answer comes at once, the drain goes on.
      if (is({"api", "v1", "admin", "drain"}) && options_.drain) {
        if (m != http::verb::post) co_return method_not_allowed();
        const auto caller = caller_of(req);
        if (!caller) co_return unauthorized();
        if (!caller->admin) co_return error(ErrorCode::kAdminOnly, "a drain takes the admin token");
        co_return json_response(http::status::accepted, options_.drain());
      }
      if (is({"api", "v1", "admin", "sessions"}) && options_.sessions) {
        if (m != http::verb::get) co_return method_not_allowed();
        const auto caller = caller_of(req);
        if (!caller) co_return unauthorized();
        if (!caller->admin) {
          co_return error(ErrorCode::kAdminOnly, "the list of sessions takes the admin token");
        }
        co_return ok_json(options_.sessions());
      }

      // An operator removes the name of a member that is gone for good, so that the quorum
      // shrinks; {"force": true} also without the quorum (docs/SPEC.md section 3 says when that
      // is safe).
      if (is({"api", "v1", "admin", "members", "*", "remove"}) && options_.remove_member) {
        if (m != http::verb::post) co_return method_not_allowed();
        const auto caller = caller_of(req);
        if (!caller) co_return unauthorized();
        if (!caller->admin) {
          co_return error(ErrorCode::kAdminOnly, "removing a member takes the admin token");
        }
        bool force = false;
        if (!req.body().empty()) {
          auto body = parse_json(req.body());
          if (!body) co_return bad_request(body.error());
          const json::object* o = body.value().if_object();
          if (o == nullptr) co_return bad_request("the body must be a JSON object");
          if (const json::value* f = o->if_contains("force")) {
            if (!f->is_bool()) co_return bad_request("force must be true or false");
            force = f->as_bool();
          }
        }
        auto removed = options_.remove_member(seg[4], force);
        if (!removed) co_return error(removed.error());
        co_return ok_json(removed.value());
      }

      // Lobbies.
      if (seg.size() >= 3 && seg[2] == "lobbies") {
        const auto caller = caller_of(req);
        if (is({"api", "v1", "lobbies"})) {
          if (m != http::verb::post) co_return method_not_allowed();
          if (!caller || caller->admin) co_return unauthorized();
          if (auto r = over(budgets_->lobbies(), caller->user_id, "new lobbies")) {
            co_return std::move(*r);
          }
          auto lobby = co_await host_.create_lobby(*caller);
          if (!lobby) co_return error(lobby.error());
          co_return json_response(http::status::created, to_json(lobby.value()));
        }
        if (seg.size() < 4) co_return error(ErrorCode::kNotFound, "no such path");
        auto code = game::normalize_join_code(seg[3]);
        if (!code) {
          co_return bad_request(
              "a join code is 4 to 8 letters, like QXJRPT; check it with the host");
        }
        if (is({"api", "v1", "lobbies", "*"})) {
          if (m != http::verb::get) co_return method_not_allowed();
          if (auto r = guesses_left(caller)) co_return std::move(*r);
          auto lobby = co_await host_.get_lobby(*code);
          if (!lobby && lobby.error().code == ErrorCode::kLobbyNotFound) missed(caller);
          if (!lobby) co_return error(lobby.error());
          co_return ok_json(to_json(lobby.value()));
        }
        if (is({"api", "v1", "lobbies", "*", "join"})) {
          if (m != http::verb::post) co_return method_not_allowed();
          if (!caller || caller->admin) co_return unauthorized();
          if (auto r = guesses_left(caller)) co_return std::move(*r);
          auto lobby = co_await host_.join_lobby(*code, *caller);
          if (!lobby && lobby.error().code == ErrorCode::kLobbyNotFound) missed(caller);
          if (!lobby) co_return error(lobby.error());
          co_return ok_json(to_json(lobby.value()));
        }
        if (is({"api", "v1", "lobbies", "*", "start"})) {
          if (m != http::verb::post) co_return method_not_allowed();
          if (!caller || caller->admin) co_return unauthorized();
          if (auto r = guesses_left(caller)) co_return std::move(*r);
          auto id = co_await host_.start_lobby(*code, *caller);
          if (!id && id.error().code == ErrorCode::kLobbyNotFound) missed(caller);
          if (!id) co_return error(id.error());
          co_return json_response(http::status::created, json::object{{"game_id", id.value()}});
        }
      }

      // Games.
      if (seg.size() >= 3 && seg[2] == "games") {
        const auto caller = caller_of(req);
        if (is({"api", "v1", "games"})) {
          if (m != http::verb::post) co_return method_not_allowed();
          if (!caller) co_return unauthorized();
          if (!caller->admin) {
            co_return error(ErrorCode::kAdminOnly,
                            "creating a game from a given state takes the admin token");
          }
          auto body = parse_json(req.body());
          if (!body) co_return bad_request(body.error());
          auto g = game_from_json(body.value());
          if (!g) co_return bad_request(g.error());
          auto created = co_await host_.create_game(std::move(g).value());
          if (!created) co_return error(created.error());
          co_return json_response(http::status::created, game_view_json(created.value()));
        }
        if (seg.size() < 4) co_return error(ErrorCode::kNotFound, "no such path");
        const std::string& id = seg[3];
        if (!game::is_valid_id(id)) {
          co_return bad_request("a game id is 1-64 characters of A-Z a-z 0-9 _ -");
        }
        if (is({"api", "v1", "games", "*"})) {
          if (m != http::verb::get) co_return method_not_allowed();
          auto g = co_await host_.get_game(id);
          if (!g) co_return error(g.error());
          co_return ok_json(game_view_json(g.value()));
        }
        if (is({"api", "v1", "games", "*", "actions"})) {
          if (m != http::verb::post) co_return method_not_allowed();
          if (!caller || caller->admin) co_return unauthorized();
          auto body = parse_json(req.body());
          if (!body) co_return bad_request(body.error());
          auto g = co_await act(id, *caller, std::move(body).value());
          if (!g && g.error().retry_after_ms > 0)
            co_return too_many(g.error().retry_after_ms, "actions");
          if (!g) co_return error(g.error().code, g.error().message);
          co_return ok_json(g.value());
        }
        if (is({"api", "v1", "games", "*", "end_round"})) {
          if (m != http::verb::post) co_return method_not_allowed();
          if (!caller) co_return unauthorized();
          if (!caller->admin) {
            if (auto r = over(budgets_->calls(), caller->user_id, "calls")) co_return std::move(*r);
          }
          auto g = co_await host_.end_round(id, *caller);
          if (!g) co_return error(g.error());
          co_return ok_json(game_view_json(g.value()));
        }
      }
      co_return error(ErrorCode::kNotFound);
    }

    // The browser game.
    if (m == http::verb::get || m == http::verb::head) {
      std::string path(req.target().substr(0, req.target().find('?')));
      if (path == "/") path = "/index.html";
      if (const WebAsset* asset = find_web_asset(path)) {
        Response r = make(http::status::ok, std::string(asset->content), asset->content_type);
        r.set(http::field::cache_control, "no-cache");
        co_return r;
      }
    }
    co_return error(ErrorCode::kNotFound, "no such page; the game is at /");
  }
}

}  // namespace minotaur::gateway
