// Transport and the public operations of TransportImpl (transport_impl.h lists the files of
// the rest).
#include "transport/transport.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>

#include "base/assert.h"
#include "transport/address.h"
#include "transport/transport_impl.h"

namespace minotaur::transport {

const char* to_string(SendError e) {
  switch (e) {
    case SendError::kNotConnected:
      return "peer not connected";
    case SendError::kQueueFull:
      return "send queue full; connection closed";
    case SendError::kTooLarge:
      return "message larger than the frame limit";
    case SendError::kStopped:
      return "transport stopped";
  }
  return "unknown send error";
}

namespace detail {

TransportImpl::TransportImpl(asio::io_context& io, TransportConfig config,
                             TransportHandlers handlers)
    : io_(io),
      config_(std::move(config)),
      handlers_(std::move(handlers)),
      acceptor_(io),
      rng_(std::random_device{}()) {
  MINOTAUR_ASSERT(valid_node_name(config_.self.name));
  MINOTAUR_ASSERT(config_.self.incarnation != 0);
  MINOTAUR_ASSERT(!config_.secret.empty() && config_.secret.size() <= kMaxSecretBytes);
  MINOTAUR_ASSERT(config_.max_frame_bytes >= kHandshakeMaxFrameBytes);
  MINOTAUR_ASSERT(config_.max_frame_bytes <= kMaxMaxFrameBytes);
  MINOTAUR_ASSERT(config_.send_queue_max_frames > 0 && config_.send_queue_max_bytes > 0);
  MINOTAUR_ASSERT(config_.reconnect_initial_ms > 0);
  MINOTAUR_ASSERT(config_.reconnect_initial_ms <= config_.reconnect_max_ms);
  MINOTAUR_ASSERT(config_.handshake_timeout_ms > 0 && config_.max_connections > 0);
  MINOTAUR_ASSERT(valid_protocol_range(config_.protocol_range));
  MINOTAUR_ASSERT(valid_build_text(config_.build));
}

void TransportImpl::set_handlers(TransportHandlers handlers) {
  MINOTAUR_ASSERT(!started_ && !stopped_);
  handlers_ = std::move(handlers);
}

Result<Ok, std::string> TransportImpl::start() {
  MINOTAUR_ASSERT(!started_ && !stopped_);
  auto hp = parse_host_port(config_.listen_address);
  if (!hp.ok()) return err("cluster listen address: " + hp.error());
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(hp.value().host, ec);
  if (ec) {
    return err("cluster listen address '" + config_.listen_address +
               "': the host must be an IP address (e.g. 0.0.0.0 or 127.0.0.1)");
  }
  const tcp::endpoint ep(ip, hp.value().port);
  if (acceptor_.open(ep.protocol(), ec); ec) return err("cannot open socket: " + ec.message());
  acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor_.bind(ep, ec); ec) {
    return err("cannot listen on " + config_.listen_address + ": " + ec.message() +
               "; pick a free port or stop the process holding it");
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return err("cannot listen on " + config_.listen_address + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  if (config_.self.address.empty()) {
    config_.self.address = format_host_port(HostPort{hp.value().host, port_});
  }
  MINOTAUR_ASSERT(valid_identity(config_.self));
  started_ = true;
  spdlog::info("transport: node {} listening for cluster peers on {} (advertised as {})",
               config_.self.name, format_host_port(HostPort{hp.value().host, port_}),
               config_.self.address);
  asio::co_spawn(io_, accept_loop(shared_from_this()), rethrow);
  return Ok{};
}

Result<Ok, std::string> TransportImpl::connect(const std::string& address) {
  if (stopped_) return err(std::string("transport stopped"));
  MINOTAUR_ASSERT(started_);
  auto hp = parse_host_port(address);
  if (!hp.ok()) return err(hp.error());
  if (hp.value().port == 0) return err("cannot dial port 0 in '" + address + "'");
  if (targets_.contains(address)) return Ok{};
  if (targets_.size() >= config_.max_dial_targets) {
    return err("too many dial targets (" + std::to_string(config_.max_dial_targets) +
               "); forget() addresses no longer needed");
  }
  auto t = std::make_shared<DialTarget>(io_, address);
  targets_.emplace(address, t);
  asio::co_spawn(io_, dial_loop(shared_from_this(), t), rethrow);
  return Ok{};
}

void TransportImpl::forget(const std::string& address) {
  auto it = targets_.find(address);
  if (it == targets_.end()) return;
  it->second->cancelled = true;
  it->second->timer.cancel();
  targets_.erase(it);
}

Result<Ok, SendError> TransportImpl::send(std::string_view peer_name, v1::Channel channel,
                                          std::string_view payload) {
  if (stopped_) return err(SendError::kStopped);
  auto it = peers_.find(peer_name);
  if (it == peers_.end()) {
    ++counters_.sends_not_connected;
    return err(SendError::kNotConnected);
  }
  const std::shared_ptr<Connection>& c = it->second;
  v1::Envelope env;
  env.set_channel(channel);
  env.set_payload(payload.data(), payload.size());
  std::string bytes;
  const bool serialized = env.SerializeToString(&bytes);
  MINOTAUR_ASSERT(serialized);
  auto frame = encode_frame(bytes, config_.max_frame_bytes);
  if (!frame.ok()) return err(SendError::kTooLarge);
  if (c->queue.size() >= config_.send_queue_max_frames ||
      c->queued_bytes + frame.value().size() > config_.send_queue_max_bytes) {
    ++counters_.send_queue_overflows;
    spdlog::warn(
        "transport: send queue to {} is full ({} frames, {} bytes); closing the connection "
        "- the peer is not reading; it will reconnect",
        describe(c->peer), c->queue.size(), c->queued_bytes);
    close(*c);
    return err(SendError::kQueueFull);
  }
  c->queued_bytes += frame.value().size();
  c->queue.push_back(std::move(frame).value());
  c->wake.cancel();
  return Ok{};
}

void TransportImpl::disconnect(std::string_view peer_name) {
  auto it = peers_.find(peer_name);
  if (it != peers_.end()) close(*it->second);
}

bool TransportImpl::idle() const {
  for (const auto& [name, c] : peers_) {
    if (!c->closed && (!c->queue.empty() || c->writing)) return false;
  }
  return true;
}

std::vector<NodeIdentity> TransportImpl::peers() const {
  std::vector<NodeIdentity> out;
  for (const auto& [name, c] : peers_) out.push_back(c->peer);
  return out;
}

void TransportImpl::stop() {
  if (stopped_) return;
  // Handlers are kept (one may be running right now) but never called again: every call site
  // checks stopped_.
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  for (auto& [address, t] : targets_) {
    t->cancelled = true;
    t->timer.cancel();
  }
  targets_.clear();
  for (auto& [id, c] : connections_) close(*c);
  for (auto& [name, c] : peers_) c->registered = false;
  peers_.clear();
  if (started_) spdlog::info("transport: node {} stopped", config_.self.name);
}

void TransportImpl::close(Connection& c) {
  if (c.closed) return;
  c.closed = true;
  boost::system::error_code ec;
  c.socket.shutdown(tcp::socket::shutdown_both, ec);
  c.socket.close(ec);
  c.resolver.cancel();
  c.wake.cancel();
  c.deadline.cancel();
}

}  // namespace detail

Transport::Transport(asio::io_context& io, TransportConfig config, TransportHandlers handlers)
    : impl_(std::make_shared<detail::TransportImpl>(io, std::move(config), std::move(handlers))) {}

Transport::~Transport() {
  impl_->stop();
}

void Transport::set_handlers(TransportHandlers handlers) {
  impl_->set_handlers(std::move(handlers));
}
Result<Ok, std::string> Transport::start() {
  return impl_->start();
}
const NodeIdentity& Transport::self() const {
  return impl_->self();
}
std::uint16_t Transport::listen_port() const {
  return impl_->port();
}
Result<Ok, std::string> Transport::connect(const std::string& address) {
  return impl_->connect(address);
}
void Transport::forget(const std::string& address) {
  impl_->forget(address);
}
Result<Ok, SendError> Transport::send(std::string_view peer_name, v1::Channel channel,
                                      std::string_view payload) {
  return impl_->send(peer_name, channel, payload);
}
void Transport::disconnect(std::string_view peer_name) {
  impl_->disconnect(peer_name);
}
bool Transport::idle() const {
  return impl_->idle();
}

bool Transport::connected(std::string_view peer_name) const {
  return impl_->connected(peer_name);
}
std::vector<NodeIdentity> Transport::peers() const {
  return impl_->peers();
}
const TransportCounters& Transport::counters() const {
  return impl_->counters();
}
void Transport::stop() {
  impl_->stop();
}

}  // namespace minotaur::transport
