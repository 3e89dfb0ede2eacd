// Dial targets: the transport keeps a connection to whatever node answers at each address,
// redialing with exponential back-off and jitter, and stops dialing an address that is itself.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>

#include "base/assert.h"
#include "transport/address.h"
#include "transport/transport_impl.h"

namespace minotaur::transport::detail {

namespace {

// How often a dial target whose peer is connected (maybe through the peer's own dial) checks
// whether it must dial again.
constexpr std::uint32_t kConnectedRecheckMs = 200;

}  // namespace

asio::awaitable<void> TransportImpl::dial_loop(std::shared_ptr<TransportImpl> self,
                                               std::shared_ptr<DialTarget> t) {
  std::uint32_t backoff_ms = self->config_.reconnect_initial_ms;
  while (!self->stopped_ && !t->cancelled) {
    if (!t->peer_name.empty() && self->connected(t->peer_name)) {
      co_await sleep(t->timer, kConnectedRecheckMs);
      continue;
    }
    const DialOutcome outcome = co_await dial_once(self, t);
    if (self->stopped_ || t->cancelled) break;
    if (outcome == DialOutcome::kSelf) {
      spdlog::info("transport: {} is this node itself; no longer dialing it", t->address);
      if (self->handlers_.on_dialed_self && !self->stopped_) {
        self->handlers_.on_dialed_self(t->address);
      }
      break;
    }
    if (outcome == DialOutcome::kAuthenticated) {
      backoff_ms = self->config_.reconnect_initial_ms;
      co_await sleep(t->timer, self->jitter(backoff_ms));
    } else {
      ++self->counters_.dial_failures;
      co_await sleep(t->timer, self->jitter(backoff_ms));
      backoff_ms = std::min(backoff_ms * 2, self->config_.reconnect_max_ms);
    }
  }
  auto it = self->targets_.find(t->address);
  if (it != self->targets_.end() && it->second == t) self->targets_.erase(it);
}

asio::awaitable<DialOutcome> TransportImpl::dial_once(std::shared_ptr<TransportImpl> self,
                                                      std::shared_ptr<DialTarget> t) {
  ++self->counters_.dial_attempts;
  if (self->connections_.size() - self->accepted_handshaking() >= self->config_.max_connections) {
    ++self->counters_.connections_refused_limit;
    co_return DialOutcome::kFailed;
  }
  auto hp = parse_host_port(t->address);
  MINOTAUR_ASSERT(hp.ok());  // checked by connect()
  auto c = self->new_connection(Role::kDialer);
  c->remote = t->address;
  self->arm_deadline(c);
  auto [rec, endpoints] = co_await c->resolver.async_resolve(
      hp.value().host, std::to_string(hp.value().port), kNoThrow);
  if (rec || c->closed) {
    spdlog::debug("transport: cannot resolve {}: {}", t->address, rec.message());
    self->forget_connection(*c);
    co_return DialOutcome::kFailed;
  }
  auto [cec, ep] = co_await asio::async_connect(c->socket, endpoints, kNoThrow);
  if (cec || c->closed) {
    spdlog::debug("transport: cannot connect to {}: {}", t->address,
                  c->timed_out ? "timed out" : cec.message());
    self->forget_connection(*c);
    co_return DialOutcome::kFailed;
  }
  const ConnectionEnd end = co_await run_connection(self, c, t);
  if (end.self_dial) co_return DialOutcome::kSelf;
  if (!end.authenticated) co_return DialOutcome::kFailed;
  co_return DialOutcome::kAuthenticated;
}

}  // namespace minotaur::transport::detail
