#include "crdt/bench.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "base/assert.h"
#include "crdt/codec.h"

namespace minotaur::crdt {
namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size_pages = 0;
  std::uint64_t resident_pages = 0;
  statm >> size_pages >> resident_pages;
  return resident_pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Two replicas and the wire between them.
class Pair {
 public:
  explicit Pair(const SyncOptions& sync) : a_(1, sync), b_(2, sync), start_(Clock::now()) {
    MINOTAUR_ASSERT(a_.add_neighbour(2, now_ms()).ok());
    MINOTAUR_ASSERT(b_.add_neighbour(1, now_ms()).ok());
  }

  SyncReplica& a() { return a_; }
  SyncReplica& b() { return b_; }
  // Wall time for the HLC: a fixed epoch plus the time since the start.
  std::uint64_t now_ms() const {
    return 1'700'000'000'000ULL +
           static_cast<std::uint64_t>(
               std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_)
                   .count());
  }
  // A ticks, then messages go both ways until neither side has anything to send.
  void round() {
    const std::uint64_t now = now_ms();
    a_.tick(now);
    b_.tick(now);
    for (;;) {
      const bool moved = carry(a_, b_, now) | carry(b_, a_, now);
      if (!moved) break;
    }
  }
  std::uint64_t wire_bytes() const { return wire_bytes_; }
  std::uint64_t messages() const { return messages_; }

 private:
  bool carry(SyncReplica& from, SyncReplica& to, std::uint64_t now) {
    std::vector<Outgoing> out = from.take_outbox();
    for (Outgoing& o : out) {
      const std::string bytes = encode(std::move(o.message));
      wire_bytes_ += bytes.size();
      ++messages_;
      auto m = decode(bytes);
      MINOTAUR_ASSERT(m.ok());
      MINOTAUR_ASSERT(to.receive(from.self(), std::move(m).value(), now).ok());
    }
    return !out.empty();
  }

  SyncReplica a_;
  SyncReplica b_;
  Clock::time_point start_;
  std::uint64_t wire_bytes_ = 0;
  std::uint64_t messages_ = 0;
};

std::string key_of(std::string_view prefix, std::size_t i) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.8s%08zu", prefix.data(), i);
  return std::string(buf, static_cast<std::size_t>(n));
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto at = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[at];
}

}  // namespace

std::string run_crdt_bench(const CrdtBenchOptions& o,
                           const std::function<void(std::string_view)>& progress) {
  const auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  MINOTAUR_ASSERT(o.keys > 0);
  Pair pair(o.sync);
  pair.round();  // first digests

  std::string value(o.value_bytes, 'v');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + i % 26);

  say("writing " + std::to_string(o.keys) + " keys of " + std::to_string(o.value_bytes) +
      " bytes on A");
  const std::uint64_t rss0 = rss_bytes();
  const Clock::time_point t0 = Clock::now();
  for (std::size_t i = 0; i < o.keys; ++i) {
    MINOTAUR_ASSERT(pair.a().put(key_of("key-", i), value, pair.now_ms()).ok());
  }
  const Clock::time_point t_written = Clock::now();
  const std::uint64_t rss1 = rss_bytes();
  say("syncing to B");
  while (pair.b().size() < o.keys) pair.round();
  const Clock::time_point t1 = Clock::now();
  const std::uint64_t rss2 = rss_bytes();
  pair.round();  // the last acks
  const std::uint64_t bulk_wire_bytes = pair.wire_bytes();

  say("measuring latency over " + std::to_string(o.latency_samples) + " single puts");
  std::vector<double> latency_us;
  latency_us.reserve(o.latency_samples);
  for (std::size_t s = 0; s < o.latency_samples; ++s) {
    const std::string key = key_of("lat-", s);
    const Clock::time_point start = Clock::now();
    MINOTAUR_ASSERT(pair.a().put(key, value, pair.now_ms()).ok());
    while (!pair.b().get(key)) pair.round();
    latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  std::sort(latency_us.begin(), latency_us.end());

  const auto per_key = [&](std::uint64_t hi, std::uint64_t lo) {
    return hi > lo ? static_cast<double>(hi - lo) / static_cast<double>(o.keys) : 0.0;
  };
  boost::json::object out;
  out["keys"] = o.keys;
  out["value_bytes"] = o.value_bytes;
  out["converge_ms"] = ms_between(t0, t1);
  out["write_ms"] = ms_between(t0, t_written);
  out["sync_ms"] = ms_between(t_written, t1);
  out["latency_samples"] = o.latency_samples;
  out["latency_p50_us"] = percentile(latency_us, 0.50);
  out["latency_p99_us"] = percentile(latency_us, 0.99);
  out["latency_max_us"] = latency_us.empty() ? 0.0 : latency_us.back();
  out["bytes_per_key"] = per_key(rss2, rss1);
  out["sender_bytes_per_key"] = per_key(rss1, rss0);
  out["wire_bytes_per_key"] = static_cast<double>(bulk_wire_bytes) / static_cast<double>(o.keys);
  out["messages"] = pair.messages();
  say("done");
  return boost::json::serialize(out);
}

}  // namespace minotaur::crdt
