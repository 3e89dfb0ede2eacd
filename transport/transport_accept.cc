// The listener: accepted connections, the budget of strangers (accepted, not yet authenticated)
// that keeps a flood of them from locking members out, and the handshake deadline.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "base/clock.h"
#include "transport/transport_impl.h"

namespace minotaur::transport::detail {

asio::awaitable<void> TransportImpl::accept_loop(std::shared_ptr<TransportImpl> self) {
  asio::steady_timer pause(self->io_);
  while (!self->stopped_) {
    auto [ec, socket] = co_await self->acceptor_.async_accept(kNoThrow);
    if (self->stopped_) break;
    const std::int64_t now_ms = steady_now_ms();
    if (ec) {
      // Out of file descriptors and the like: say so (once per interval), wait, keep serving.
      self->accept_log_.note(now_ms, [&](std::uint64_t count) {
        spdlog::warn(
            "transport: accept failed: {} ({} times in the last interval); retrying "
            "every 100 ms; raise the open-file limit (ulimit -n) if it goes on",
            ec.message(), count);
      });
      co_await sleep(pause, 100);
      continue;
    }
    // Strangers (accepted, not yet authenticated) have a budget of their own. When it is
    // full, the oldest stranger makes room: a real peer finishes its handshake in a round
    // trip, so under a flood of connections that say nothing it still gets through, and
    // neither the established peers nor our own dials are touched.
    const std::size_t handshaking = self->accepted_handshaking();
    const bool full = self->connections_.size() - handshaking >= self->config_.max_connections;
    if (full || handshaking >= self->config_.max_handshaking) {
      ++(full ? self->counters_.connections_refused_limit
              : self->counters_.connections_refused_handshaking);
      self->refused_log_.note(now_ms, [&](std::uint64_t count) {
        spdlog::warn(
            "transport: {} cluster connections refused or dropped in the last interval: {}", count,
            full ? fmt::format("{} connections open (the limit)",
                               self->connections_.size() - handshaking)
                 : fmt::format("{} unauthenticated connections at once (the limit); the oldest "
                               "made room",
                               handshaking));
      });
      if (full) {
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      self->close_oldest_stranger();
    }
    ++self->counters_.connections_accepted;
    auto c = self->new_connection(Role::kAcceptor);
    c->socket = std::move(socket);
    boost::system::error_code rec;
    const auto remote = c->socket.remote_endpoint(rec);
    c->remote =
        rec ? std::string("?") : remote.address().to_string() + ":" + std::to_string(remote.port());
    asio::co_spawn(self->io_, run_accepted(self, c), rethrow);
  }
}

asio::awaitable<void> TransportImpl::run_accepted(std::shared_ptr<TransportImpl> self,
                                                  std::shared_ptr<Connection> c) {
  self->arm_deadline(c);
  co_await run_connection(self, c, nullptr);
}

void TransportImpl::close_oldest_stranger() {
  for (const auto& [id, c] : connections_) {  // by id: oldest first
    if (c->role == Role::kAcceptor && !c->authenticated && !c->closed) {
      close(*c);
      return;
    }
  }
}

std::size_t TransportImpl::accepted_handshaking() const {
  std::size_t n = 0;
  for (const auto& [id, c] : connections_) {
    if (c->role == Role::kAcceptor && !c->authenticated) ++n;
  }
  return n;
}

std::shared_ptr<Connection> TransportImpl::new_connection(Role role) {
  auto c = std::make_shared<Connection>(io_, role, next_connection_id_++);
  connections_.emplace(c->id, c);
  return c;
}

void TransportImpl::arm_deadline(const std::shared_ptr<Connection>& c) {
  c->deadline.expires_after(std::chrono::milliseconds(config_.handshake_timeout_ms));
  c->deadline.async_wait([c](const boost::system::error_code& ec) {
    if (ec || c->authenticated || c->closed) return;
    c->timed_out = true;
    close(*c);
  });
}

}  // namespace minotaur::transport::detail
