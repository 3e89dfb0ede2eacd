#include "bench/ws_load.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/assert.h"

namespace minotaur::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::int64_t kDrainGraceNs = 5'000'000'000;  // for answers after stop()
constexpr std::int64_t kSilenceNs = 15'000'000'000;    // no answer this long: reconnect

// Answers that are refusals by the rules or of the request: retrying cannot help, so the bench
// has a bug. Every other error (unavailable, not found while a killed node's sessions are picked
// up, ...) is retried.
bool is_final_refusal(std::string_view code) {
  return code == "bad_request" || code == "unauthorized" || code == "not_a_player" ||
         code == "not_a_unit_vector" || code == "off_board" || code == "no_action_points";
}
}  // namespace

std::int64_t WsLoad::now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct WsLoad::Impl {
  struct Call {
    std::size_t session = 0;
    std::int64_t sent_ns = 0;  // open loop: the scheduled time
  };
  struct Client {
    explicit Client(asio::io_context& io) : wake(io) {}
    ClientSpec spec;
    std::size_t index = 0;
    std::size_t node = 0;
    std::deque<std::size_t> ready;  // sessions with nothing in flight
    std::unordered_map<std::uint64_t, Call> in_flight;
    std::uint64_t next_call_id = 1;
    std::unique_ptr<websocket::stream<beast::tcp_stream>> ws;
    asio::steady_timer wake;
    std::int64_t last_answer_ns = 0;
    bool done = false;
  };

  Impl(WsLoad& o, const PhaseSpec& s) : owner(o), spec(s) {}

  WsLoad& owner;
  const PhaseSpec& spec;
  asio::io_context io;
  std::vector<std::unique_ptr<Client>> clients;
  PhaseFigures figures;
  std::int64_t stop_ns = 0;
  std::mutex status_mutex;
  std::string status;

  SessionRecord& session(std::size_t i) { return owner.sessions_[i]; }
  bool stopping() const { return owner.stopping_; }

  void wake(Client& c) { c.wake.cancel(); }

  std::size_t pick_node(std::size_t from) const {
    const std::size_t n = owner.ports_.size();
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (from + k) % n;
      if (!owner.down_[i]) return i;
    }
    return from % n;
  }

  void on_ack(Client& c, const Call& call, std::uint64_t version) {
    const std::int64_t t = now_ns();
    SessionRecord& s = session(call.session);
    s.in_flight = false;
    s.pending = false;
    // A version at or below an earlier ack's: the state went back; those acks are lost. Said at
    // once, with when and through which node, so that the nodes' logs can be read at that time.
    const std::uint64_t newest = s.acked_versions.empty() ? 0 : s.acked_versions.back();
    std::uint64_t gone = 0;
    while (!s.acked_versions.empty() && s.acked_versions.back() >= version) {
      s.acked_versions.pop_back();
      ++gone;
    }
    if (gone > 0) {
      s.lost_in_run += gone;
      std::fprintf(stderr,
                   "bench: LOST t=%.3f %s acknowledged version %llu after version %llu (client "
                   "%zu via node %zu, %u attempts): a state went back\n",
                   static_cast<double>(t % 1'000'000'000'000) / 1e9, s.game_id.c_str(),
                   static_cast<unsigned long long>(version),
                   static_cast<unsigned long long>(newest), c.index, c.node, s.attempts);
    }
    s.acked_versions.push_back(version);
    s.last_acked_vector = static_cast<int>(s.next_action % 6);
    ++s.next_action;
    const std::int64_t wb = owner.window_begin_ns_, we = owner.window_end_ns_;
    const std::int64_t bb = owner.baseline_begin_ns_, be = owner.baseline_end_ns_;
    const auto overlaps = [](std::int64_t a, std::int64_t b, std::int64_t lo, std::int64_t hi) {
      return lo != 0 && b >= lo && (hi == 0 || a <= hi);
    };
    if (s.last_ack_ns != 0) {
      const double gap_ms = static_cast<double>(t - s.last_ack_ns) / 1e6;
      if (overlaps(s.last_ack_ns, t, wb, we)) s.max_gap_ms = std::max(s.max_gap_ms, gap_ms);
      if (bb != 0 && s.last_ack_ns >= bb && be != 0 && t <= be) {
        s.baseline_gap_ms = std::max(s.baseline_gap_ms, gap_ms);
      }
    }
    if (std::getenv("MINOTAUR_BENCH_TRACE") && t - s.first_attempt_ns > 200'000'000) {
      std::fprintf(stderr,
                   "TRACE t=%.3f ack %s first attempt t=%.3f, %u attempts, last t=%.3f, client "
                   "%zu via node %zu\n",
                   static_cast<double>(t % 1'000'000'000'000) / 1e9, s.game_id.c_str(),
                   static_cast<double>(s.first_attempt_ns % 1'000'000'000'000) / 1e9, s.attempts,
                   static_cast<double>(s.last_attempt_ns % 1'000'000'000'000) / 1e9, c.index,
                   c.node);
    }
    if (overlaps(s.first_attempt_ns, t, wb, we)) {
      s.max_stall_ms = std::max(s.max_stall_ms, static_cast<double>(t - s.first_attempt_ns) / 1e6);
    }
    s.last_ack_ns = t;
    ++figures.acks;
    if (t >= spec.measure_from_ns && !stopping()) {
      ++figures.measured_acks;
      figures.latency_ms.push_back(static_cast<double>(t - call.sent_ns) / 1e6);
    }
    c.ready.push_back(call.session);
  }

  void on_refusal(Client& c, const Call& call, const std::string& code) {
    SessionRecord& s = session(call.session);
    s.in_flight = false;
    ++figures.error_codes[code];
    if (is_final_refusal(code)) return;  // not retried: the session leaves the load
    ++figures.retries;
    c.ready.push_front(call.session);  // a retry goes first, as a player's client would send it
  }

  // Every call without an answer goes back to be retried.
  void fail_in_flight(Client& c) {
    for (const auto& [id, call] : c.in_flight) {
      session(call.session).in_flight = false;
      c.ready.push_front(call.session);
      ++figures.retries;
    }
    c.in_flight.clear();
  }

  void handle_message(Client& c, std::string_view text) {
    c.last_answer_ns = now_ns();
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(text, ec);
    if (ec || !v.is_object()) {
      ++figures.error_codes["bench_unparsable_answer"];
      return;
    }
    const auto& o = v.get_object();
    const auto* id = o.if_contains("id");
    if (id == nullptr || !id->is_int64()) {
      ++figures.error_codes["bench_answer_without_id"];
      return;
    }
    auto it = c.in_flight.find(static_cast<std::uint64_t>(id->get_int64()));
    if (it == c.in_flight.end()) return;
    const Call call = it->second;
    c.in_flight.erase(it);
    const auto* event = o.if_contains("event");
    if (event != nullptr && event->is_string() && event->get_string() == "ack") {
      const auto* version = o.at("game").get_object().if_contains("version");
      MINOTAUR_ASSERT(version != nullptr && version->is_int64());
      on_ack(c, call, static_cast<std::uint64_t>(version->get_int64()));
    } else {
      std::string code = "bench_no_code";
      if (const auto* e = o.if_contains("error"); e != nullptr && e->is_object()) {
        if (const auto* k = e->get_object().if_contains("code"); k != nullptr && k->is_string()) {
          code = std::string(k->get_string());
        }
      }
      on_refusal(c, call, code);
    }
    wake(c);
  }

  asio::awaitable<void> read_loop(Client& c) {
    beast::flat_buffer buf;
    for (;;) {
      auto [ec, n] = co_await c.ws->async_read(buf, kUseTuple);
      if (ec) co_return;
      handle_message(c, std::string_view(static_cast<const char*>(buf.cdata().data()), n));
      buf.consume(buf.size());
      if (stopping() && c.in_flight.empty()) co_return;
    }
  }

  asio::awaitable<bool> send_one(Client& c, std::int64_t scheduled_ns) {
    const std::size_t si = c.ready.front();
    c.ready.pop_front();
    SessionRecord& s = session(si);
    const std::int64_t t = now_ns();
    if (!s.pending) {
      s.pending = true;
      s.first_attempt_ns = t;
      s.attempts = 0;
    }
    s.last_attempt_ns = t;
    ++s.attempts;
    s.in_flight = true;
    const std::uint64_t id = c.next_call_id++;
    c.in_flight.emplace(id, Call{si, scheduled_ns != 0 ? scheduled_ns : t});
    const int* v = kUnitVectors[s.next_action % 6];
    const std::string text = fmt::format(
        R"({{"op":"act","id":{},"game_id":"{}","action":{{"type":"move","vector":{{"q":{},"r":{}}}}}}})",
        id, s.game_id, v[0], v[1]);
    c.ws->text(true);
    auto [ec, n] = co_await c.ws->async_write(asio::buffer(text), kUseTuple);
    co_return !ec;
  }

  asio::awaitable<void> write_loop(Client& c) {
    const bool open_loop = spec.rate_per_client > 0;
    const auto interval = std::chrono::nanoseconds(
        open_loop ? static_cast<std::int64_t>(1e9 / spec.rate_per_client) : 0);
    auto next_tick = std::chrono::steady_clock::now();
    for (;;) {
      if (stopping()) {
        if (c.in_flight.empty()) co_return;
      } else if (!open_loop) {
        while (!c.ready.empty() && c.in_flight.size() < spec.window && !stopping()) {
          if (!co_await send_one(c, 0)) co_return;
        }
      } else {
        while (std::chrono::steady_clock::now() >= next_tick && !stopping()) {
          const std::int64_t scheduled =
              std::chrono::duration_cast<std::chrono::nanoseconds>(next_tick.time_since_epoch())
                  .count();
          next_tick += interval;
          if (c.ready.empty() || c.in_flight.size() >= spec.window) {
            ++figures.skipped_sends;
            continue;
          }
          if (!co_await send_one(c, scheduled)) co_return;
        }
      }
      if (open_loop && !stopping()) {
        c.wake.expires_at(next_tick);
      } else {
        c.wake.expires_after(std::chrono::milliseconds(100));
      }
      co_await c.wake.async_wait(kUseTuple);
    }
  }

  asio::awaitable<bool> connect(Client& c) {
    c.node = pick_node(c.node);
    c.ws = std::make_unique<websocket::stream<beast::tcp_stream>>(io);
    auto& tcp_stream = beast::get_lowest_layer(*c.ws);
    tcp_stream.expires_after(std::chrono::seconds(2));
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), owner.ports_[c.node]);
    auto [cec] = co_await tcp_stream.async_connect(ep, kUseTuple);
    if (cec) co_return false;
    const std::string bearer = "Bearer " + c.spec.token;
    c.ws->set_option(websocket::stream_base::decorator([bearer](websocket::request_type& req) {
      req.set(beast::http::field::authorization, bearer);
    }));
    auto [hec] = co_await c.ws->async_handshake("127.0.0.1", "/api/v1/ws", kUseTuple);
    if (hec) co_return false;
    tcp_stream.expires_never();
    c.ws->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    c.ws->read_message_max(1 << 20);
    c.last_answer_ns = now_ns();
    co_return true;
  }

  asio::awaitable<void> run_client(Client& c) {
    bool first = true;
    std::size_t failures = 0;  // in a row
    while (!(stopping() && c.in_flight.empty())) {
      if (!first) {
        if (std::getenv("MINOTAUR_BENCH_TRACE")) {
          std::fprintf(stderr, "TRACE t=%.3f client %zu reconnect from node %zu\n",
                       static_cast<double>(now_ns() % 1'000'000'000'000) / 1e9, c.index, c.node);
        }
        ++figures.reconnects;
        // Home again when it is up; after failures in a row, the next nodes in turn.
        c.node = (c.spec.first_node + failures) % owner.ports_.size();
        asio::steady_timer pause(io, std::chrono::milliseconds(20));
        co_await pause.async_wait(kUseTuple);
      }
      first = false;
      if (!co_await connect(c)) {
        c.ws.reset();
        ++failures;
        continue;
      }
      failures = 0;
      co_await (read_loop(c) || write_loop(c));
      fail_in_flight(c);
      boost::system::error_code ignore;
      beast::get_lowest_layer(*c.ws).socket().close(ignore);
      c.ws.reset();
      if (stopping()) break;
    }
    c.done = true;
  }

  asio::awaitable<void> report() {
    asio::steady_timer t(io);
    std::uint64_t last_acks = 0;
    auto last = std::chrono::steady_clock::now();
    for (int tick = 1;; ++tick) {
      t.expires_after(std::chrono::milliseconds(100));  // a progress line every 10
      co_await t.async_wait(kUseTuple);
      bool all_done = true;
      std::size_t in_flight = 0;
      const std::int64_t now = now_ns();
      for (auto& c : clients) {
        all_done = all_done && c->done;
        in_flight += c->in_flight.size();
        // An answer overdue, or the grace after stop() over: drop the connection.
        const bool silent = !c->in_flight.empty() && now - c->last_answer_ns > kSilenceNs;
        const bool grace_over = stop_ns != 0 && now - stop_ns > kDrainGraceNs;
        if (c->ws && (silent || grace_over)) {
          boost::system::error_code ignore;
          beast::get_lowest_layer(*c->ws).socket().close(ignore);
        }
      }
      if (all_done) co_return;
      if (stopping() && stop_ns == 0) stop_ns = now;
      if (tick % 10 != 0) continue;
      const auto at = std::chrono::steady_clock::now();
      const double secs = std::chrono::duration<double>(at - last).count();
      std::string st;
      {
        std::lock_guard lock(status_mutex);
        st = status;
      }
      owner.progress_(
          fmt::format("{}: {} acks ({:.0f}/s), {} in flight, {} retries, {} reconnects{}",
                      spec.name, figures.acks, static_cast<double>(figures.acks - last_acks) / secs,
                      in_flight, figures.retries, figures.reconnects, st.empty() ? "" : "; " + st));
      last_acks = figures.acks;
      last = at;
    }
  }
};

WsLoad::WsLoad(std::vector<std::uint16_t> http_ports, std::vector<SessionRecord>& sessions,
               std::function<void(const std::string&)> progress)
    : ports_(std::move(http_ports)),
      sessions_(sessions),
      progress_(std::move(progress)),
      down_(new std::atomic<bool>[ports_.size()]) {
  for (std::size_t i = 0; i < ports_.size(); ++i) down_[i] = false;
}

WsLoad::~WsLoad() = default;

void WsLoad::set_status(const std::string& s) {
  if (!impl_) return;
  std::lock_guard lock(impl_->status_mutex);
  impl_->status = s;
}

PhaseFigures WsLoad::run_phase(const PhaseSpec& spec, const std::function<void()>& driver) {
  MINOTAUR_ASSERT(!impl_);
  stopping_ = false;
  impl_ = std::make_unique<Impl>(*this, spec);
  Impl& im = *impl_;
  for (std::size_t i = 0; i < spec.clients.size(); ++i) {
    auto c = std::make_unique<Impl::Client>(im.io);
    c->spec = spec.clients[i];
    c->index = i;
    c->node = spec.clients[i].first_node;
    for (const std::size_t s : c->spec.sessions) {
      sessions_[s].in_flight = false;
      c->ready.push_back(s);
    }
    asio::co_spawn(im.io, im.run_client(*c), asio::detached);
    im.clients.push_back(std::move(c));
  }
  asio::co_spawn(im.io, im.report(), asio::detached);
  const std::int64_t began = now_ns();
  std::thread runner([&] { im.io.run(); });
  driver();
  stopping_ = true;
  const std::int64_t ended = now_ns();
  runner.join();
  PhaseFigures out = std::move(im.figures);
  out.stopped_ns = ended;
  const std::int64_t from = std::max(spec.measure_from_ns, began);
  out.measured_s = static_cast<double>(ended - from) / 1e9;
  impl_.reset();
  return out;
}

}  // namespace minotaur::bench
