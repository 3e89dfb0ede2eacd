// Metrics: a node's one registry of counters and gauges, rendered for GET /metrics in the
// Prometheus text format 0.0.4 (a HELP and a TYPE line for each metric, then its samples).
//
// Each layer adds its own metrics where the node is wired together: the gateway its HTTP and
// WebSocket counters, the sessions layer its hosts' and router's, the cluster runtime its
// transport's. A sample is either held here (held_counter: the caller keeps the reference and
// counts with it) or read by a callback at every rendering, from counters its owner keeps anyway
// (the sans-I/O cores count in plain fields, and the simulator drives them without a registry).
// Whatever a callback reads must outlive every render() call.
//
// Values are whole numbers, for every metric of a node counts things (requests, bytes, members
// up). A metric may have several samples told apart by labels (`reason="established"`), each
// added under the same name, help and type. Metrics render in the order they were first added,
// each metric's samples in the order they were added.
//
// Why not Debian's prometheus-cpp: its metrics are values it owns, while most of ours are read
// from the cores' own counters when scraped, which it would take a collector class per layer
// for; the text format itself is a few lines.
//
// A name or label that Prometheus would reject, a counter whose name does not end in "_total",
// or a sample added twice is a bug and aborts. Not thread-safe: one thread adds, counts and
// renders (the node's io_context thread).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace minotaur {

class Metrics {
 public:
  using Value = std::uint64_t;
  using Read = std::function<Value()>;
  // name="value" pairs of one sample; empty for a metric of one sample.
  using Labels = std::vector<std::pair<std::string, std::string>>;
  enum class Type { kCounter, kGauge };  // a counter only grows (until the process restarts)

  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A sample whose value `read` gives at every rendering.
  void add_counter(const std::string& name, const std::string& help, Read read,
                   const Labels& labels = {});
  void add_gauge(const std::string& name, const std::string& help, Read read,
                 const Labels& labels = {});
  // A sample held here, starting at 0; the reference stays valid as long as the registry.
  Value& held_counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Value& held_gauge(const std::string& name, const std::string& help, const Labels& labels = {});

  // Every metric in the Prometheus text format, each line ending in "\n".
  std::string render() const;

 private:
  struct Sample {
    std::string labels;  // rendered: {a="x",b="y"}, or empty
    Read read;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<Sample> samples;
  };
  void add(Type type, const std::string& name, const std::string& help, Read read,
           const Labels& labels);
  Value& held(Type type, const std::string& name, const std::string& help, const Labels& labels);

  std::vector<Family> families_;
  std::deque<Value> held_;  // a deque: references stay valid as it grows
};

}  // namespace minotaur
