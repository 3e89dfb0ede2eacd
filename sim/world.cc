#include "sim/world.h"

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/assert.h"
#include "base/stable_hash.h"
#include "sessions/placement.h"
#include "sim/world_impl.h"

namespace minotaur::sim {

namespace {

constexpr std::int64_t kSettleMs = 6'000;        // after the faults stop, before the probes
constexpr std::int64_t kServedBoundMs = 10'000;  // a probe must be acknowledged within this

// Sends what the nodes log into the world's trace (World::log_line).
class TraceSink final : public spdlog::sinks::base_sink<spdlog::details::null_mutex> {
 public:
  explicit TraceSink(std::function<void(std::string)> to) : to_(std::move(to)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    to_(fmt::format("  log {}: {}", spdlog::level::to_string_view(msg.level),
                    std::string_view(msg.payload.data(), msg.payload.size())));
  }
  void flush_() override {}

 private:
  std::function<void(std::string)> to_;
};

}  // namespace

World::World(const SimConfig& c)
    : config_(c),
      rng_(c.seed),
      checkers_(config_, [this](std::string what) { fail(std::move(what)); }) {
  for (int i = 0; i < c.nodes; ++i) names_.push_back(fmt::format("n{}", i + 1));
  for (int g = 0; g < c.games; ++g) games_.push_back(sessions::game_key(fmt::format("g{}", g)));
}

SimResult World::run() {
  std::shared_ptr<spdlog::logger> before;
  if (config_.logs) {
    before = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>(
        "sim",
        std::make_shared<TraceSink>([this](std::string line) { log_line(std::move(line)); }));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(std::move(logger));
  }
  for (const std::string& n : names_) start_node(n);
  // The games exist before the load starts: created through the first node.
  at(300, [this] {
    for (const std::string& g : games_) create(g);
  });
  const std::int64_t load_start = 2'000;
  for (int c = 0; c < config_.clients; ++c) {
    at(load_start + uniform(0, 100), [this, c] { client_step(c); });
  }
  fault_end_ms_ = load_start + config_.steps * 10;
  if (config_.faults) {
    for (std::int64_t t = load_start + 500; t < fault_end_ms_; t += 10) {
      at(t, [this] { maybe_fault(); });
    }
  }
  // The faults stop: heal, restart what is down, let it settle, then every game must serve.
  at(fault_end_ms_, [this] { end_faults(); });
  at(fault_end_ms_ + kSettleMs, [this] { probe_all(); });
  const std::int64_t end = fault_end_ms_ + kSettleMs + kServedBoundMs + 2'000;
  run_until(end);
  check_quiescence();
  if (before) spdlog::set_default_logger(std::move(before));
  result_.trace_hash = trace_hash_;
  result_.ok = result_.failures.empty();
  const std::size_t tail = std::min(config_.trace_tail, trace_.size());
  result_.trace_tail.assign(trace_.end() - static_cast<std::ptrdiff_t>(tail), trace_.end());
  return std::move(result_);
}

void World::run_until(std::int64_t end) {
  while (!queue_.empty() && queue_.begin()->first.first <= end) {
    auto node = queue_.extract(queue_.begin());
    now_ = node.key().first;
    ++result_.events;
    node.mapped()();
  }
  now_ = end;
}

void World::trace(std::string line) {
  line = fmt::format("{:>7} {}", now_, line);
  trace_hash_ = trace_hash_ * 1099511628211ULL ^ stable_hash(line);
  keep(std::move(line));
}

void World::log_line(std::string line) {
  keep(fmt::format("{:>7} {}", now_, line));
}

void World::keep(std::string line) {
  trace_.push_back(std::move(line));
  if (trace_.size() > 4 * config_.trace_tail) {
    trace_.erase(trace_.begin(), trace_.begin() + static_cast<std::ptrdiff_t>(config_.trace_tail));
  }
}

void World::fail(std::string what) {
  trace("CHECK FAILED: " + what);
  if (result_.failures.size() < 20) result_.failures.push_back(fmt::format("t={} {}", now_, what));
}

void World::check_quiescence() {
  trace("quiescence: checking");
  std::vector<Node*> up;
  for (const std::string& name : names_) {
    if (Node* n = live(name); n != nullptr) up.push_back(n);
  }
  checkers_.quiescence(games_, up, result_);
  for (Node* n : up) result_.pickups += n->core->counters().picked_up;
}

std::string SimResult::summary() const {
  return fmt::format(
      "{}: {} actions acknowledged, {} calls not served, {} faults, {} hand-offs, {} pick-ups, "
      "{} removals, {} excused async losses, {} events",
      ok ? "ok" : "FAILED", acknowledged, refused, faults, handoffs, pickups, removals,
      excused_losses, events);
}

std::string SimResult::report(std::uint64_t seed) const {
  std::string out = fmt::format("sim seed {}: {}\n", seed, summary());
  for (const std::string& f : failures) out += "  " + f + "\n";
  if (!ok) {
    out += fmt::format("trace (last {} lines; rerun with `minotaur sim --seed {}`):\n",
                       trace_tail.size(), seed);
    for (const std::string& l : trace_tail) out += "  " + l + "\n";
  }
  return out;
}

SimResult run(const SimConfig& config) {
  MINOTAUR_ASSERT(config.nodes >= 1 && config.games >= 1 && config.clients >= 0);
  World world(config);
  return world.run();
}

}  // namespace minotaur::sim
