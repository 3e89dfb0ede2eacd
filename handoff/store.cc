#include "handoff/store.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "crdt/codec.h"

namespace minotaur::handoff {

namespace asio = boost::asio;

namespace {
// The replica's hybrid logical clock orders the writes of different nodes: wall time.
std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Store::Store(asio::io_context& io, std::string self_name, std::uint64_t self_incarnation, Send send)
    : io_(io),
      core_(std::move(self_name), self_incarnation, wall_ms),
      send_(std::move(send)),
      timer_(io) {}

Store::~Store() {
  stop();
}

void Store::start() {
  tick();
}

void Store::stop() {
  stopped_ = true;
  timer_.cancel();
}

void Store::on_message(const std::string& from_name, std::uint64_t from_incarnation,
                       std::string_view bytes) {
  auto m = crdt::decode(bytes);
  if (!m) {
    core_.count_dropped();
    spdlog::warn("store: dropped a malformed message from {}: {}", from_name, m.error());
    return;
  }
  if (core_.receive(from_name, from_incarnation, std::move(m).value())) deliver();
}

asio::awaitable<bool> Store::flush(std::int64_t timeout_ms) {
  auto id = core_.flush(timeout_ms);
  if (!id) co_return false;
  asio::steady_timer wake(io_);
  wake.expires_at(asio::steady_timer::time_point::max());
  bool acked = false;
  flushes_[id.value()] = {&wake, &acked};
  deliver();
  if (flushes_.count(id.value()) != 0) {
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  flushes_.erase(id.value());
  co_return acked;
}

void Store::deliver() {
  for (StoreCore::Outgoing& out : core_.take_outbox()) {
    const std::string bytes = crdt::encode(std::move(out.message));
    if (send_(out.to, bytes)) core_.count_sent(bytes.size());
  }
  for (const crdt::FlushDone& f : core_.take_flushed()) {
    auto it = flushes_.find(f.id);
    if (it == flushes_.end()) {
      if (on_flushed_) on_flushed_(f);
      continue;
    }
    *it->second.second = f.acked;
    it->second.first->cancel();
    flushes_.erase(it);
  }
}

void Store::tick() {
  if (stopped_) return;
  core_.tick();
  deliver();
  timer_.expires_after(std::chrono::milliseconds(StoreCore::kTickMs));
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

}  // namespace minotaur::handoff
