#include "handoff/store_core.h"

#include <spdlog/spdlog.h>

#include "base/assert.h"
#include "base/stable_hash.h"

namespace minotaur::handoff {

crdt::ReplicaId replica_id(std::string_view name, std::uint64_t incarnation) {
  std::string s(name);
  s += "#" + std::to_string(incarnation);
  const crdt::ReplicaId id = stable_hash(s);
  return id == 0 ? 1 : id;  // 0 is not a replica id
}

namespace {
std::uint64_t as_replica_time(std::int64_t ms) {
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}
}  // namespace

StoreCore::StoreCore(std::string self_name, std::uint64_t self_incarnation, Clock clock)
    : self_name_(std::move(self_name)),
      replica_(replica_id(self_name_, self_incarnation)),
      clock_(std::move(clock)) {
  MINOTAUR_ASSERT(static_cast<bool>(clock_));
}

void StoreCore::add_peer(const std::string& name, std::uint64_t incarnation) {
  const crdt::ReplicaId id = replica_id(name, incarnation);
  if (peers_.count(id) != 0) return;
  if (auto r = replica_.add_neighbour(id, as_replica_time(clock_())); !r) {
    spdlog::error("store: cannot add {} as a peer: {}", name, crdt::to_string(r.error()));
    return;
  }
  peers_[id] = name;
}

void StoreCore::remove_peer(const std::string& name, std::uint64_t incarnation, bool gone) {
  const crdt::ReplicaId id = replica_id(name, incarnation);
  if (peers_.erase(id) == 0) return;
  replica_.remove_neighbour(id);
  if (gone) (void)replica_.retire_replica(id);
}

bool StoreCore::has_peer(const std::string& name, std::uint64_t incarnation) const {
  return peers_.count(replica_id(name, incarnation)) != 0;
}

bool StoreCore::receive(const std::string& from_name, std::uint64_t from_incarnation,
                        crdt::SyncMessage message) {
  const crdt::ReplicaId from = replica_id(from_name, from_incarnation);
  if (peers_.count(from) == 0 ||
      !replica_.receive(from, std::move(message), as_replica_time(clock_()))) {
    ++counters_.dropped;
    return false;
  }
  ++counters_.messages_received;
  return true;
}

void StoreCore::tick() {
  replica_.tick(as_replica_time(clock_()));
}

Result<crdt::FlushId, crdt::SyncError> StoreCore::flush(std::int64_t timeout_ms) {
  const std::int64_t now = clock_();
  auto id = replica_.flush(as_replica_time(now + timeout_ms));
  if (!id) return id;
  ++counters_.flushes;
  replica_.tick(as_replica_time(now));  // send what is pending now rather than at the next tick
  return id;
}

std::vector<StoreCore::Outgoing> StoreCore::take_outbox() {
  std::vector<Outgoing> out;
  for (crdt::Outgoing& o : replica_.take_outbox()) {
    auto it = peers_.find(o.to);
    if (it == peers_.end()) continue;
    out.push_back(Outgoing{it->second, std::move(o.message)});
  }
  return out;
}

std::vector<crdt::FlushDone> StoreCore::take_flushed() {
  std::vector<crdt::FlushDone> done = replica_.take_events();
  for (const crdt::FlushDone& f : done) {
    if (!f.acked) ++counters_.flush_timeouts;
  }
  return done;
}

void StoreCore::count_sent(std::size_t bytes) {
  ++counters_.messages_sent;
  counters_.bytes_sent += bytes;
}

void StoreCore::stash(const std::string& key, std::string value) {
  if (auto r = replica_.put(key, std::move(value), as_replica_time(clock_())); !r) {
    spdlog::error("store: cannot stash {}: {}", key, crdt::to_string(r.error()));
    return;
  }
  ++counters_.stashed;
}

void StoreCore::remove(const std::string& key) {
  replica_.remove(key);
}

std::optional<std::string> StoreCore::pickup(std::string_view key) const {
  auto v = replica_.get(key);
  if (!v) return std::nullopt;
  return std::string(*v);
}

std::optional<std::uint64_t> StoreCore::stashed_epoch(std::string_view key) const {
  auto v = replica_.get(key);
  if (!v) return std::nullopt;
  auto s = decode_stashed(*v);
  if (!s) return std::nullopt;
  return s->epoch;
}

std::vector<std::string> StoreCore::keys() const {
  std::vector<std::string> out;
  out.reserve(replica_.size());
  replica_.map().for_each([&](const auto& key, const auto&) { out.emplace_back(key); });
  return out;
}

}  // namespace minotaur::handoff
