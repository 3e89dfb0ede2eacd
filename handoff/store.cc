#include "handoff/store.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

#include "base/assert.h"
#include "base/clock.h"
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
      timer_(io),
      commit_timer_(io),
      db_timer_(io) {}

Store::~Store() {
  stop();
  // A batch being written finishes; its completion, posted to the stopped loop, never runs.
  if (writer_) writer_->join();
  if (db_writer_) db_writer_->join();
}

void Store::start() {
  tick();
  if (disk_ != nullptr) every(commit_timer_, commit_interval_ms_, &Store::commit);
  if (database_ != nullptr) every(db_timer_, db_interval_ms_, &Store::db_write);
}

void Store::stop() {
  stopped_ = true;
  timer_.cancel();
  commit_timer_.cancel();
  db_timer_.cancel();
}

void Store::attach_disk(storage::DataDir& dir, std::int64_t commit_interval_ms) {
  MINOTAUR_ASSERT(core_.has_disk() && disk_ == nullptr && commit_interval_ms > 0);
  disk_ = &dir;
  commit_interval_ms_ = commit_interval_ms;
  writer_.emplace(1);
  // Named (like the database's), so that `top -H` and profilers tell it from the node's loop.
  asio::post(*writer_, [] { pthread_setname_np(pthread_self(), "store-writer"); });
}

void Store::commit() {
  if (disk_ == nullptr) return;
  auto batch = core_.take_batch();
  if (!batch) return;
  asio::post(*writer_, [this, b = std::move(*batch)] {
    auto written = disk_->commit(b);
    std::string error = written ? std::string() : std::move(written).error();
    asio::post(io_, [this, seq = b.seq, error = std::move(error)] {
      const bool ok = error.empty();
      core_.on_committed(seq, ok);
      if (!ok) {
        failure_log_.note(steady_now_ms(), [&](std::uint64_t n) {
          spdlog::error(
              "store: {} ({} failed batch(es)); changes are refused until a batch is written. "
              "Free space on the data dir's disk, or stop the node (SIGTERM) so that its "
              "sessions move to other nodes",
              error, n);
        });
        disk_error_ = error;
      } else if (!disk_error_.empty()) {
        spdlog::info("store: the data dir is written again; changes are accepted");
        disk_error_.clear();
      }
      for (asio::steady_timer* w : disk_waiters_) w->cancel();
      deliver();  // flushes that waited for this batch
      // A durable flush that waits gets its batch now; after a failure, the next interval.
      if (ok && core_.commit_wanted()) commit();
    });
  });
}

// Runs `step` now and every `interval_ms` on `timer` until the store stops: the disk's and the
// database's periodic writes.
void Store::every(asio::steady_timer& timer, std::int64_t interval_ms, void (Store::*step)()) {
  if (stopped_) return;
  (this->*step)();
  timer.expires_after(std::chrono::milliseconds(interval_ms));
  timer.async_wait([this, &timer, interval_ms, step](boost::system::error_code ec) {
    if (!ec) every(timer, interval_ms, step);
  });
}

asio::awaitable<bool> Store::write_to_disk(std::int64_t timeout_ms) {
  if (disk_ == nullptr) co_return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (core_.disk_behind()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    const std::uint64_t failures = core_.counters().batch_failures;
    commit();
    asio::steady_timer wake(io_);
    wake.expires_at(deadline);
    disk_waiters_.push_back(&wake);
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(disk_waiters_, &wake);
    if (core_.counters().batch_failures != failures) co_return false;
  }
  co_return true;
}

// ---- the database ----------------------------------------------------------------------------

void Store::attach_database(storage::PgDatabase& db, std::int64_t commit_interval_ms) {
  MINOTAUR_ASSERT(core_.has_database() && database_ == nullptr && commit_interval_ms > 0);
  database_ = &db;
  db_interval_ms_ = commit_interval_ms;
  db_writer_.emplace(1);
  asio::post(*db_writer_, [] { pthread_setname_np(pthread_self(), "db-writer"); });
}

void Store::db_write() {
  if (database_ == nullptr) return;
  auto batch = core_.take_db_batch();
  if (!batch) return;
  asio::post(*db_writer_, [this, b = std::move(*batch)] {
    auto written = database_->write(b);
    storage::DbWriteResult result = written ? written.value() : storage::DbWriteResult{};
    std::string error = written ? std::string() : std::move(written).error();
    asio::post(io_, [this, seq = b.seq, result, error = std::move(error)] {
      const storage::DbQueue& q = *core_.database();
      if (!core_.on_db_written(seq, result)) {
        // Catching up: the next batch at once rather than at the next interval.
        if (!q.failing() && q.queue_length() != 0 && !stopped_) db_write();
        return;
      }
      if (q.failing()) {
        spdlog::error(
            "store: cannot write to the database at {}: {}. Changes queue ({} session(s) now) "
            "and are retried; past {} session(s) or {} ms behind, changes are refused",
            database_->where(), error, q.queue_length(), q.limits().max_keys,
            q.limits().max_lag_ms);
      } else {
        spdlog::info("store: the database at {} is written again ({} session(s) still queued)",
                     database_->where(), q.queue_length());
      }
    });
  });
}

asio::awaitable<bool> Store::write_to_database(std::int64_t timeout_ms) {
  if (database_ == nullptr) co_return true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  asio::steady_timer wake(io_);
  while (core_.database()->queue_length() != 0) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    db_write();
    // The database's thread reports through the loop; look again every few milliseconds.
    wake.expires_after(std::chrono::milliseconds(5));
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return true;
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

asio::awaitable<bool> Store::flush(std::int64_t timeout_ms, bool durable) {
  auto id = core_.flush(timeout_ms, durable);
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
  if (core_.commit_wanted() && core_.disk_ok()) commit();
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
