// WsLoad: many concurrent WebSocket clients that register actions through the public API
// (`{"op":"act"}` on GET /api/v1/ws, docs/SPEC.md section 3) and record what was acknowledged.
//
// Each client is one connection, authenticated as one user, that drives its own sessions (the
// games where that user is player 1): at most one call in flight per session, so a session's
// acknowledged versions are in order; up to `window` calls in flight per connection (pipelined).
// Every call registers a move; the vector cycles through the six unit vectors, so consecutive
// actions of a session differ. A client whose connection breaks (its node stops) reconnects —
// to its first node when that is not marked down, else to the next one that is not — and
// retries the calls that got no answer, before its other sessions' next actions; an answer that
// is not an ack is retried the same way. A call that was never acknowledged does not count, but it
// may have been applied — the check at the end allows for that (SessionRecord::pending).
//
// Phases run one after the other; each starts its connections, runs until stop() and until the
// calls in flight are answered (at most 5 s more), then closes them. Figures per phase: acks in
// a measuring window, per-call latency, and per session the longest gap between two acks and
// the longest call (first attempt to ack, retries included) inside a marked window.
//
// Threads: run_phase() runs the clients on one thread of its own; stop(), mark_*() and the node
// flags may be called from another thread (they are atomics); records are read after
// run_phase() returned.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace minotaur::bench {

// What the bench knows about one session, and what its clients saw acknowledged.
struct SessionRecord {
  std::string game_id;
  std::size_t client = 0;  // the client whose user is player 1
  std::string host;        // the node that hosted it when created

  // Driving.
  std::uint32_t next_action = 0;  // index of the action being registered (vector = index % 6)
  bool in_flight = false;
  bool pending = false;  // the current action was attempted and not (yet) acknowledged
  std::int64_t first_attempt_ns = 0;
  std::int64_t last_attempt_ns = 0;
  std::uint32_t attempts = 0;  // of the current action

  // Acknowledged.
  std::vector<std::uint64_t> acked_versions;  // in order; regressions are counted as lost
  int last_acked_vector = -1;                 // index into kUnitVectors
  std::uint64_t lost_in_run = 0;              // acks whose version a later ack went back past
  std::int64_t last_ack_ns = 0;
  double max_gap_ms = 0;       // inside the marked window
  double max_stall_ms = -1;    // inside the marked window; -1: no call of it overlapped
  double baseline_gap_ms = 0;  // wholly inside the baseline window
};

inline constexpr int kUnitVectors[6][2] = {{1, 0}, {1, -1}, {0, -1}, {-1, 0}, {-1, 1}, {0, 1}};

struct ClientSpec {
  std::string token;                  // the user's bearer token
  std::size_t first_node = 0;         // connects here first
  std::vector<std::size_t> sessions;  // indexes into the session records
};

struct PhaseSpec {
  std::string name;
  std::vector<ClientSpec> clients;
  std::size_t window = 32;     // calls in flight per connection
  double rate_per_client = 0;  // 0: closed loop (as fast as answered); else calls/s, open loop
  std::int64_t measure_from_ns = 0;  // acks counted from here (steady clock, ns)
};

struct PhaseFigures {
  std::uint64_t acks = 0;           // all
  std::uint64_t measured_acks = 0;  // from measure_from_ns until stop()
  double measured_s = 0;
  std::int64_t stopped_ns = 0;  // when stop() took effect: no call was sent after it
  std::uint64_t retries = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t skipped_sends = 0;                   // open loop: a tick found no session free
  std::map<std::string, std::uint64_t> error_codes;  // answers that were not acks
  std::vector<double> latency_ms;  // per measured ack: send (open loop: scheduled) to ack
};

class WsLoad {
 public:
  // `http_ports` by node index; `progress` gets a line a second (from the load's thread).
  WsLoad(std::vector<std::uint16_t> http_ports, std::vector<SessionRecord>& sessions,
         std::function<void(const std::string&)> progress);
  ~WsLoad();

  // Runs a phase until stop() is called from another thread (or from `driver`, which runs on
  // the caller's thread while the clients run). Blocks.
  PhaseFigures run_phase(const PhaseSpec& spec, const std::function<void()>& driver);
  void stop() { stopping_ = true; }

  // Node i is being stopped: clients do not connect to it.
  void set_node_down(std::size_t i, bool down) { down_[i] = down; }
  // Gaps and stalls are recorded for acks inside [begin, end] (steady clock, ns); end 0: open.
  void mark_window(std::int64_t begin_ns, std::int64_t end_ns) {
    window_begin_ns_ = begin_ns;
    window_end_ns_ = end_ns;
  }
  void mark_baseline(std::int64_t begin_ns, std::int64_t end_ns) {
    baseline_begin_ns_ = begin_ns;
    baseline_end_ns_ = end_ns;
  }
  // A short status the progress line shows ("restarting node2").
  void set_status(const std::string& s);

  static std::int64_t now_ns();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<std::uint16_t> ports_;
  std::vector<SessionRecord>& sessions_;
  std::function<void(const std::string&)> progress_;
  std::unique_ptr<std::atomic<bool>[]> down_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> window_begin_ns_{0}, window_end_ns_{0};
  std::atomic<std::int64_t> baseline_begin_ns_{0}, baseline_end_ns_{0};
};

}  // namespace minotaur::bench
