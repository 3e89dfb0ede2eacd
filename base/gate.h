// Gate: stop new work, then wait for the work in flight (Seastar's seastar::gate). A piece of work
// holds a Gate::Pass for as long as it runs; close() turns new work away; wait_idle() completes
// when no pass is left or a bound passed — woken by the last pass, never by polling.
//
// Thread: one io_context thread, like the work it counts.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "base/assert.h"

namespace minotaur {

class Gate {
  struct State {
    std::size_t in_flight = 0;
    bool closed = false;
    std::vector<boost::asio::steady_timer*> idle_waiters;
  };

 public:
  // One piece of work in flight; leaving the scope (or reset()) ends it. A pass may outlive
  // its gate (the state is shared), so a coroutine destroyed late never touches freed memory.
  class Pass {
   public:
    Pass(Pass&& other) noexcept : state_(std::move(other.state_)) {}
    Pass& operator=(Pass&& other) noexcept {
      if (this != &other) {
        reset();
        state_ = std::move(other.state_);
      }
      return *this;
    }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() { reset(); }
    void reset() {
      if (!state_) return;
      MINOTAUR_ASSERT(state_->in_flight > 0);
      if (--state_->in_flight == 0) {
        for (boost::asio::steady_timer* t : state_->idle_waiters) t->cancel();
      }
      state_.reset();
    }

   private:
    friend class Gate;
    explicit Pass(std::shared_ptr<State> state) : state_(std::move(state)) {
      ++state_->in_flight;
    }
    std::shared_ptr<State> state_;
  };

  Gate() = default;
  Gate(const Gate&) = delete;
  Gate& operator=(const Gate&) = delete;

  // A pass for new work; none once the gate is closed.
  std::optional<Pass> enter() {
    if (state_->closed) return std::nullopt;
    return Pass(state_);
  }
  // A pass even after close(): for work that must be counted however it came (e.g. a call that
  // arrived from another node while this one drains).
  Pass enter_always() { return Pass(state_); }
  void close() { state_->closed = true; }
  bool closed() const { return state_->closed; }
  std::size_t in_flight() const { return state_->in_flight; }

  // Completes when no pass is left (true) or after `bound` (false: some work still runs).
  boost::asio::awaitable<bool> wait_idle(boost::asio::any_io_executor executor,
                                         std::chrono::milliseconds bound) {
    const std::shared_ptr<State> state = state_;
    if (state->in_flight == 0) co_return true;
    boost::asio::steady_timer timer(executor, bound);
    state->idle_waiters.push_back(&timer);
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    std::erase(state->idle_waiters, &timer);
    co_return state->in_flight == 0;
  }

 private:
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace minotaur
