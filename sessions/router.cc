#include "sessions/router.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/assert.h"
#include "game/join_code.h"
#include "game/validate.h"
#include "proto/codec.h"
#include "sessions/placement.h"
#include "sessions/router_wire.h"

namespace minotaur::sessions {

using wire::creates;
using wire::from_proto;
using wire::key_of;
using wire::mutates;
using wire::to_proto;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

OwnershipOptions ownership_options(std::string self, std::string self_id, bool sync) {
  OwnershipOptions o;
  o.self = std::move(self);
  o.self_id = std::move(self_id);
  o.sync = sync;
  return o;
}
}  // namespace

Router::Router(asio::any_io_executor executor, SessionHost& host, ClusterLink& link,
               std::string self, std::string self_id, handoff::Store* store, bool sync)
    : executor_(std::move(executor)),
      host_(host),
      link_(link),
      self_(std::move(self)),
      store_(store),
      core_(ownership_options(self_, std::move(self_id), sync), host,
            store == nullptr ? nullptr : &store->core()) {
  if (store_ != nullptr) {
    store_->on_flushed([this](const crdt::FlushDone& done) {
      if (core_.on_flushed(done)) carry_core();
    });
  }
  host_.on_any_change([this](const GameView& v) {
    core_.changed(game_key(v.game.id));
    push(v);
  });
  host_.on_expired([this](const std::string& key) {
    core_.drop(key);
    carry_out();
  });
  tick_timer_ = std::make_unique<asio::steady_timer>(executor_);
  asio::co_spawn(executor_, tick_loop(), asio::detached);
}

Router::~Router() {
  *alive_ = false;
  if (store_ != nullptr) store_->on_flushed(nullptr);
  host_.on_any_change(nullptr);
  host_.on_expired(nullptr);
}

void Router::stop() {
  stopped_ = true;
  if (tick_timer_) tick_timer_->cancel();
}

void Router::add_metrics(Metrics& registry) const {
  const auto add = [&](const char* name, const char* help, std::uint64_t RouterCounters::*field) {
    registry.add_counter(name, help, [this, field] { return counters_.*field; });
  };
  add("minotaur_forwarded_total", "calls forwarded to the node that hosts the session",
      &RouterCounters::forwarded);
  add("minotaur_forward_timeouts_total", "forwarded calls that got no answer in time",
      &RouterCounters::forward_timeouts);
  add("minotaur_forwards_to_the_dead_total",
      "forwarded calls given up when the cluster declared their node down, and asked again",
      &RouterCounters::forwards_to_the_dead);
  add("minotaur_pushes_sent_total", "game changes sent to nodes whose clients watch the game",
      &RouterCounters::pushes_sent);
  const auto own = [&](const char* name, const char* help,
                       std::uint64_t OwnershipCounters::*field) {
    registry.add_counter(name, help, [this, field] { return core_.counters().*field; });
  };
  own("minotaur_handoffs_sent_total", "sessions handed to a new owner and acknowledged",
      &OwnershipCounters::handoffs_sent);
  own("minotaur_handoffs_received_total", "sessions started here from a hand-off",
      &OwnershipCounters::handoffs_received);
  own("minotaur_transfers_resent_total", "hand-offs sent again: no acknowledgement in time",
      &OwnershipCounters::transfers_resent);
  own("minotaur_waits_for_arrival_total", "calls that waited for a session in transit",
      &OwnershipCounters::waits_for_arrival);
  own("minotaur_picked_up_total", "sessions started here from the replicated store",
      &OwnershipCounters::picked_up);
  own("minotaur_superseded_total", "stale copies dropped: the store had a newer epoch",
      &OwnershipCounters::superseded);
  own("minotaur_waits_for_quorum_total", "changes held while cut off from the majority",
      &OwnershipCounters::waits_for_quorum);
  own("minotaur_waits_for_confirm_total",
      "changes held until another node held the session's new epoch",
      &OwnershipCounters::waits_for_confirm);
  own("minotaur_concluded_dropped_total", "concluded games dropped after their retention",
      &OwnershipCounters::games_dropped);
  own("minotaur_lobbies_dropped_total", "lobbies dropped, unchanged for their retention",
      &OwnershipCounters::lobbies_dropped);
}

asio::awaitable<void> Router::tick_loop() {
  auto alive = alive_;
  while (*alive && !stopped_) {
    tick_timer_->expires_after(std::chrono::milliseconds(NodeCore::kTickMs));
    co_await tick_timer_->async_wait(kNoThrow);
    if (!*alive || stopped_) co_return;
    core_.tick(link_.lease(), now_ms());
    carry_out();
  }
}

std::int64_t Router::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Router::send(const std::string& peer, const v1::Envelope& e) {
  (void)link_.send(peer, e.SerializeAsString());
}

// The core's messages go out (a transfer also carries who watches the game), its wakes wake.
void Router::carry_core() {
  for (Ownership::Send& s : core_.take_sends()) {
    if (s.envelope.has_transfer()) {
      v1::Transfer* t = s.envelope.mutable_transfer();
      const auto key = SessionKey::parse(t->key());
      if (t->is_game() && key && key->is_game()) {
        const std::string& id = key->id;
        if (auto w = remote_watchers_.find(id); w != remote_watchers_.end()) {
          for (const std::string& n : w->second) {
            if (n != s.to) t->add_subscribers(n);
          }
        }
        if (watched_.count(id) != 0) t->add_subscribers(self_);
      }
    }
    if (!link_.send(s.to, s.envelope.SerializeAsString())) core_.on_send_failed(s, now_ms());
  }
  for (const std::string& key : core_.take_wakes()) notify(key);
}

// ... and what the core asked of the store (peers added or removed, confirming flushes).
void Router::carry_out() {
  carry_core();
  if (store_ != nullptr) store_->deliver();
}

// ---- waiting, woken by events ----------------------------------------------------------------

asio::awaitable<void> Router::wait(const std::string& key, std::int64_t until_ms) {
  asio::steady_timer timer(executor_);
  timer.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, until_ms - now_ms())));
  auto it = waiters_.emplace(key, &timer);
  auto alive = alive_;
  co_await timer.async_wait(kNoThrow);
  if (*alive) waiters_.erase(it);
}

void Router::notify(const std::string& key) {
  auto [b, e] = waiters_.equal_range(key);
  for (auto it = b; it != e; ++it) it->second->cancel();
}

void Router::notify_all() {
  for (auto& [k, t] : waiters_) t->cancel();
}

// ---- calls -----------------------------------------------------------------------------------

asio::awaitable<Router::CallResult> Router::route(std::string key, v1::Request req) {
  CallState call;
  call.key = std::move(key);
  call.kind =
      creates(req) ? CallKind::kCreate : (mutates(req) ? CallKind::kWrite : CallKind::kRead);
  call.hops = req.hops();
  call.deadline_ms = now_ms() + NodeCore::kCallTimeoutMs;
  for (;;) {
    CallStep step = core_.step(call, waiters_.count(call.key), link_.lease(), now_ms());
    carry_out();  // a pick-up or a dropped stale copy may have stashed or woken something
    switch (step.kind) {
      case CallStep::Kind::kAnswer:
        co_return err(std::move(*step.error));
      case CallStep::Kind::kWait:
        co_await wait(call.key, step.until_ms);  // woken by the core's wakes
        continue;
      case CallStep::Kind::kServe: {
        auto result = co_await execute_local(req);
        carry_out();
        if (result && core_.write_waits_for_peers(call.kind) &&
            !co_await store_->flush(NodeCore::kSyncTimeoutMs, /*durable=*/true)) {
          ++counters_.sync_timeouts;
          co_return err(NodeCore::not_replicated());
        }
        co_return result;
      }
      case CallStep::Kind::kForward:
        break;
    }
    req.set_hops(call.hops + 1);
    auto reply = co_await forward(step.owner, req);
    if (reply) co_return from_reply(std::move(*reply));
    const CallStep retry = core_.forward_failed(call, step.owner, now_ms());
    if (retry.kind == CallStep::Kind::kAnswer) co_return err(*retry.error);
    co_await wait(call.key, retry.until_ms);  // membership may change meanwhile
  }
}

// A forwarded call's reply, checked: the bytes of another node are not trusted.
Router::CallResult Router::from_reply(v1::Reply reply) {
  switch (reply.result_case()) {
    case v1::Reply::kGame: {
      auto v = from_proto(reply.game());
      if (!v) {
        return err(
            SessionError{ErrorCode::kBadReply, "the owner sent an invalid game: " + v.error()});
      }
      Outcome out;
      out.game = std::move(v).value();
      return out;
    }
    case v1::Reply::kLobby: {
      auto l = proto::decode_lobby(reply.lobby());
      if (!l) return err(SessionError{ErrorCode::kBadReply, "the owner sent an invalid lobby"});
      Outcome out;
      out.lobby = std::move(l).value();
      return out;
    }
    case v1::Reply::kStartedGame: {
      Outcome out;
      out.game_id = reply.started_game();
      return out;
    }
    case v1::Reply::kError:
      return err(from_proto(reply.error()));
    default:
      return err(SessionError{ErrorCode::kBadReply, "the owner sent an empty reply"});
  }
}

asio::awaitable<std::optional<v1::Reply>> Router::forward(const std::string& o, v1::Request req) {
  const std::uint64_t id = next_request_id_++;
  req.set_id(id);
  v1::Envelope e;
  *e.mutable_request() = std::move(req);
  if (!link_.send(o, e.SerializeAsString())) co_return std::nullopt;
  ++counters_.forwarded;
  Pending& p = pending_[id];
  p.to = o;
  p.timer = std::make_unique<asio::steady_timer>(executor_);
  p.timer->expires_after(std::chrono::milliseconds(NodeCore::kForwardTimeoutMs));
  auto alive = alive_;
  co_await p.timer->async_wait(kNoThrow);
  if (!*alive) co_return std::nullopt;
  auto it = pending_.find(id);
  std::optional<v1::Reply> reply = std::move(it->second.reply);
  const bool to_the_dead = it->second.to_the_dead;
  pending_.erase(it);
  if (!reply) ++(to_the_dead ? counters_.forwards_to_the_dead : counters_.forward_timeouts);
  co_return reply;
}

asio::awaitable<void> Router::serve_remote(std::string from, v1::Request req) {
  const std::uint64_t id = req.id();
  if (req.op_case() == v1::Request::kReset) {
    v1::Envelope e;
    e.mutable_reply()->set_id(id);
    auto dropped = reset_here(req.reset().check_only());
    if (dropped) {
      e.mutable_reply()->set_reset_dropped(dropped.value());
    } else {
      *e.mutable_reply()->mutable_error() = to_proto(dropped.error());
    }
    send(from, e);
    co_return;
  }
  const std::string key = key_of(req);
  auto alive = alive_;
  const Gate::Pass in_flight = remote_calls_.enter_always();  // until the reply is sent
  auto result = co_await route(key, std::move(req));
  if (!*alive) co_return;
  v1::Envelope e;
  v1::Reply* reply = e.mutable_reply();
  reply->set_id(id);
  if (!result) {
    *reply->mutable_error() = to_proto(result.error());
  } else if (result.value().game) {
    *reply->mutable_game() = to_proto(*result.value().game);
  } else if (result.value().lobby) {
    reply->set_lobby(proto::encode_lobby(*result.value().lobby));
  } else {
    reply->set_started_game(result.value().game_id);
  }
  send(from, e);
}

// ---- watching games across nodes -------------------------------------------------------------

std::uint64_t Router::subscribe(const std::string& game_id, SessionHost::GameListener listener) {
  const std::uint64_t id = host_.subscribe(game_id, std::move(listener));
  ++watched_[game_id];
  const std::string o = owner(game_key(game_id));
  if (!o.empty() && o != self_) {
    v1::Envelope e;
    e.set_subscribe(game_id);
    send(o, e);
  }
  return id;
}

void Router::unsubscribe(const std::string& game_id, std::uint64_t id) {
  host_.unsubscribe(game_id, id);
  auto it = watched_.find(game_id);
  if (it == watched_.end()) return;
  if (--it->second == 0) {
    watched_.erase(it);
    const std::string o = owner(game_key(game_id));
    if (!o.empty() && o != self_) {
      v1::Envelope e;
      e.set_unsubscribe(game_id);
      send(o, e);
    }
  }
}

void Router::push(const GameView& v) {
  auto it = remote_watchers_.find(v.game.id);
  if (it == remote_watchers_.end() || it->second.empty()) return;
  v1::Envelope e;
  *e.mutable_push() = to_proto(v);
  const std::string bytes = e.SerializeAsString();
  for (const std::string& node : it->second) {
    if (link_.send(node, bytes)) ++counters_.pushes_sent;
  }
}

// ---- hand-off --------------------------------------------------------------------------------

asio::awaitable<void> Router::drain() {
  const std::size_t total = host_.keys().size();
  spdlog::info("sessions: handing {} session(s) to their new owners", total);
  core_.drain(now_ms());
  carry_out();
  notify_all();
  const std::string drain_key = "drain";
  while (!core_.drain_over(now_ms())) {
    co_await wait(drain_key, now_ms() + NodeCore::kTickMs);
  }
  if (!host_.keys().empty() && core_.serving().empty()) {
    spdlog::info(
        "sessions: every other node is leaving too; {} session(s) stay in this node's store",
        host_.keys().size());
  } else if (!host_.keys().empty()) {
    spdlog::error("sessions: {} session(s) could not be handed off within {} ms",
                  host_.keys().size(), NodeCore::kDrainBoundMs);
  }
}

// ---- messages --------------------------------------------------------------------------------

void Router::on_message(const std::string& from, std::string_view bytes,
                        std::uint64_t from_incarnation) {
  v1::Envelope e;
  if (!e.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    spdlog::warn("sessions: dropped an undecodable message from {}", from);
    return;
  }
  switch (e.body_case()) {
    case v1::Envelope::kRequest:
      asio::co_spawn(executor_, serve_remote(from, std::move(*e.mutable_request())),
                     asio::detached);
      break;
    case v1::Envelope::kReply: {
      auto it = pending_.find(e.reply().id());
      if (it == pending_.end()) return;  // timed out already
      it->second.reply = std::move(*e.mutable_reply());
      it->second.timer->cancel();
      break;
    }
    case v1::Envelope::kTransfer: {
      const v1::Transfer& t = e.transfer();
      const auto key = SessionKey::parse(t.key());
      if (t.is_game() && key && key->is_game()) {
        auto& watchers = remote_watchers_[key->id];
        for (const std::string& n : t.subscribers()) {
          if (n != self_) watchers.insert(n);
        }
      }
      core_.on_transfer(from, from_incarnation, t, link_.lease(), now_ms());
      carry_out();
      break;
    }
    case v1::Envelope::kTransferAck: {
      const auto key = SessionKey::parse(e.transfer_ack().key());
      if (core_.on_ack(from, e.transfer_ack(), link_.lease(), now_ms()) && key && key->is_game()) {
        remote_watchers_.erase(key->id);
      }
      carry_out();
      notify("drain");
      break;
    }
    case v1::Envelope::kSubscribe: {
      const std::string& id = e.subscribe();
      if (!game::is_valid_id(id)) return;
      remote_watchers_[id].insert(from);
      if (host_.hosts(game_key(id))) {
        // The current state at once, like a local subscription.
        auto v = host_.export_state(game_key(id));
        auto g = proto::decode_game(v.first);
        if (g) {
          v1::Envelope p;
          *p.mutable_push() =
              to_proto(GameView{std::move(g).value(), self_, host_.epoch(game_key(id))});
          send(from, p);
        }
      }
      break;
    }
    case v1::Envelope::kUnsubscribe: {
      auto it = remote_watchers_.find(e.unsubscribe());
      if (it != remote_watchers_.end()) {
        it->second.erase(from);
        if (it->second.empty()) remote_watchers_.erase(it);
      }
      break;
    }
    case v1::Envelope::kPush: {
      auto v = from_proto(e.push());
      if (!v) {
        spdlog::warn("sessions: dropped an invalid game update from {}: {}", from, v.error());
        return;
      }
      if (!host_.hosts(game_key(v.value().game.id))) host_.deliver(v.value());
      break;
    }
    default:
      spdlog::warn("sessions: {} sent a message this version does not know", from);
  }
}

NodeCore::MemberOutcome Router::on_member_event(const cluster::MemberEvent& event) {
  if (event.kind == cluster::MemberStatus::kDown && !event.member.self) {
    // Calls forwarded to a node that crashed or was cut off will get no answer: each looks
    // again now (the session's new owner starts it from the store), instead of waiting out
    // NodeCore::kForwardTimeoutMs after the failure bound has already passed.
    for (auto& [id, p] : pending_) {
      if (p.to == event.member.name && !p.reply) {
        p.to_the_dead = true;
        p.timer->cancel();
      }
    }
    for (auto it = remote_watchers_.begin(); it != remote_watchers_.end();) {
      it->second.erase(event.member.name);
      it = it->second.empty() ? remote_watchers_.erase(it) : std::next(it);
    }
  }
  if (core_.on_member_event(event, link_.membership(), link_.lease(), now_ms()) ==
      NodeCore::MemberOutcome::kFenced) {
    stop();
    return NodeCore::MemberOutcome::kFenced;
  }
  carry_out();
  notify_all();
  // Watch each game at its (maybe new) owner; a duplicate subscription is harmless.
  for (const auto& [id, n] : watched_) {
    const std::string o = owner(game_key(id));
    if (!o.empty() && o != self_ && !host_.hosts(game_key(id))) {
      v1::Envelope e;
      e.set_subscribe(id);
      send(o, e);
    }
  }
  return NodeCore::MemberOutcome::kGoOn;
}

}  // namespace minotaur::sessions
