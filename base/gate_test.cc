#include "base/gate.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

namespace minotaur {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Runs wait_idle(bound) on `io` and returns its result once the io_context ran out of work.
std::optional<bool> wait_idle(asio::io_context& io, Gate& gate, milliseconds bound) {
  std::optional<bool> result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await gate.wait_idle(io.get_executor(), bound); },
      asio::detached);
  io.run();
  io.restart();
  return result;
}

TEST(Gate, IdleAtOnceWithNothingInFlight) {
  asio::io_context io;
  Gate gate;
  EXPECT_EQ(wait_idle(io, gate, milliseconds(10'000)), true);
}

TEST(Gate, TheLastPassWakesTheWaiterBeforeTheBound) {
  asio::io_context io;
  Gate gate;
  std::optional<Gate::Pass> pass = gate.enter();
  ASSERT_TRUE(pass.has_value());
  EXPECT_EQ(gate.in_flight(), 1u);
  asio::steady_timer later(io, milliseconds(20));
  later.async_wait([&](boost::system::error_code) { pass.reset(); });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_idle(io, gate, milliseconds(60'000)), true);
  // Woken by the pass, not by the bound (a minute).
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_EQ(gate.in_flight(), 0u);
}

TEST(Gate, TheBoundEndsTheWaitWhileWorkRuns) {
  asio::io_context io;
  Gate gate;
  const Gate::Pass pass = gate.enter_always();
  EXPECT_EQ(wait_idle(io, gate, milliseconds(10)), false);
  EXPECT_EQ(gate.in_flight(), 1u);
}

TEST(Gate, AClosedGateTurnsNewWorkAwayButCountsWhatMustBeCounted) {
  Gate gate;
  gate.close();
  EXPECT_FALSE(gate.enter().has_value());
  {
    const Gate::Pass pass = gate.enter_always();
    EXPECT_EQ(gate.in_flight(), 1u);
  }
  EXPECT_EQ(gate.in_flight(), 0u);
}

TEST(Gate, APassMayOutliveItsGate) {
  std::optional<Gate::Pass> pass;
  {
    Gate gate;
    pass = gate.enter();
  }
  pass.reset();  // touches only the shared state
  SUCCEED();
}

}  // namespace
}  // namespace minotaur
