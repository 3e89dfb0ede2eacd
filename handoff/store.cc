#include "handoff/store.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "crdt/codec.h"
#include "crdt/stable_hash.h"

namespace minotaur::handoff {

namespace asio = boost::asio;

crdt::ReplicaId replica_id(std::string_view name, std::uint64_t incarnation) {
  std::string s(name);
  s += "#" + std::to_string(incarnation);
  const crdt::ReplicaId id = crdt::stable_hash(s);
  return id == 0 ? 1 : id;  // 0 is not a replica id
}

Store::Store(asio::io_context& io, std::string self_name, std::uint64_t self_incarnation, Send send)
    : io_(io),
      self_name_(std::move(self_name)),
      replica_(replica_id(self_name_, self_incarnation)),
      send_(std::move(send)),
      timer_(io) {}

Store::~Store() {
  stop();
}

std::uint64_t Store::now_ms() const {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void Store::start() {
  tick();
}

void Store::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Store::add_peer(const std::string& name, std::uint64_t incarnation) {
  const crdt::ReplicaId id = replica_id(name, incarnation);
  if (peers_.count(id) != 0) return;
  if (auto r = replica_.add_neighbour(id, now_ms()); !r) {
    spdlog::error("store: cannot add {} as a peer: {}", name, crdt::to_string(r.error()));
    return;
  }
  peers_[id] = name;
  deliver();
}

void Store::remove_peer(const std::string& name, std::uint64_t incarnation, bool gone) {
  const crdt::ReplicaId id = replica_id(name, incarnation);
  if (peers_.erase(id) == 0) return;
  replica_.remove_neighbour(id);
  if (gone) (void)replica_.retire_replica(id);
  deliver();  // flushes that waited only for this peer are released
}

void Store::on_message(const std::string& from_name, std::uint64_t from_incarnation,
                       std::string_view bytes) {
  const crdt::ReplicaId from = replica_id(from_name, from_incarnation);
  auto m = crdt::decode(bytes);
  if (!m) {
    ++counters_.dropped;
    spdlog::warn("store: dropped a malformed message from {}: {}", from_name, m.error());
    return;
  }
  if (auto r = replica_.receive(from, std::move(m).value(), now_ms()); !r) {
    ++counters_.dropped;
    return;
  }
  ++counters_.messages_received;
  deliver();
}

void Store::stash(const std::string& key, std::string value) {
  if (auto r = replica_.put(key, std::move(value), now_ms()); !r) {
    spdlog::error("store: cannot stash {}: {}", key, crdt::to_string(r.error()));
    return;
  }
  ++counters_.stashed;
}

void Store::remove(const std::string& key) {
  replica_.remove(key);
}

std::optional<std::string> Store::pickup(std::string_view key) const {
  auto v = replica_.get(key);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<std::uint64_t> Store::stashed_epoch(std::string_view key) const {
  auto v = replica_.get(key);
  if (!v) return std::nullopt;
  auto s = decode_stashed(*v);
  if (!s) return std::nullopt;
  return s->epoch;
}

std::vector<std::string> Store::keys() const {
  std::vector<std::string> out;
  out.reserve(replica_.size());
  replica_.map().for_each([&](const auto& key, const auto&) { out.emplace_back(key); });
  return out;
}

asio::awaitable<bool> Store::flush(std::int64_t timeout_ms) {
  auto id = replica_.flush(now_ms() + static_cast<std::uint64_t>(timeout_ms));
  if (!id) co_return false;
  ++counters_.flushes;
  asio::steady_timer wake(io_);
  wake.expires_at(asio::steady_timer::time_point::max());
  bool acked = false;
  flushes_[id.value()] = {&wake, &acked};
  replica_.tick(now_ms());  // send what is pending now rather than at the next tick
  deliver();
  if (flushes_.count(id.value()) != 0) {
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  flushes_.erase(id.value());
  if (!acked) ++counters_.flush_timeouts;
  co_return acked;
}

void Store::deliver() {
  for (auto& out : replica_.take_outbox()) {
    auto it = peers_.find(out.to);
    if (it == peers_.end()) continue;
    const std::string bytes = crdt::encode(std::move(out.message));
    if (send_(it->second, bytes)) {
      ++counters_.messages_sent;
      counters_.bytes_sent += bytes.size();
    }
  }
  for (const crdt::FlushDone& f : replica_.take_events()) {
    auto it = flushes_.find(f.id);
    if (it == flushes_.end()) continue;
    *it->second.second = f.acked;
    it->second.first->cancel();
    flushes_.erase(it);
  }
}

void Store::tick() {
  if (stopped_) return;
  replica_.tick(now_ms());
  deliver();
  timer_.expires_after(std::chrono::milliseconds(kTickMs));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

}  // namespace minotaur::handoff
