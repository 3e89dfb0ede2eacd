// Checkers: the guarantees a simulated run must keep, checked apart from the code they check.
// The world reports what happens (changes accepted, actions acknowledged, sessions started,
// kills, stalls and cuts) and asks for the end checks at quiescence; every broken guarantee goes
// to `fail`, with what broke it.
//
// - One owner at a time: the epochs of a game's accepted changes never go down, no two
//   incarnations accept changes at the same epoch, and an instance whose turn ended (another
//   accepted a change after it) never accepts again.
// - No acknowledged action is lost: every session starts from a state holding every action
//   acknowledged so far, and holds them all at quiescence. Under async replication an action may
//   be lost only when the node that acknowledged it was killed, stalled or cut off within the
//   replication window after the acknowledgement (excused, and counted).
// - At quiescence each game is hosted by exactly one node, its placement owner, and every replica
//   of the store holds the same entries.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/node.h"
#include "sim/world.h"

namespace minotaur::sim {

struct Ack {
  std::uint64_t action = 0;
  std::string node_id;
  std::int64_t at_ms = 0;
  // No other live node was on its side of a partition: it had nobody to replicate to (its
  // quorum lease may still run on confirmations from nodes that died a moment ago).
  bool isolated = false;
};

class Checkers {
 public:
  Checkers(const SimConfig& config, std::function<void(std::string)> fail);

  // ---- what happened ----
  // SIGKILL, or a stall: what the node acknowledged and had not replicated may be lost (async).
  void killed(std::int64_t at_ms, std::string node_id);
  // A partition cut these nodes off from the rest.
  void cut(std::int64_t at_ms, std::set<std::string> cut_off);
  void acknowledged(const std::string& game, Ack ack);

  // ---- checks as the run goes ----
  // A node incarnation accepted a change of `game` at `epoch`: one owner at a time.
  void accepted(const std::string& node_id, const std::string& game, std::uint64_t epoch,
                std::int64_t now_ms);
  // A node incarnation starts `game` at `epoch` from `state`: it holds every action
  // acknowledged so far, unless async replication may have lost it.
  void started(const std::string& node_id, const std::string& game, std::uint64_t epoch,
               const std::string& state);

  // ---- at quiescence ----
  // `live`: the live nodes, in the order of their names. Counts excused losses into `result`.
  void quiescence(const std::vector<std::string>& games, const std::vector<Node*>& live,
                  SimResult& result);

 private:
  struct Accepted {  // the last change a game accepted
    std::string node_id;
    std::uint64_t epoch = 0;
    std::int64_t at_ms = 0;
  };

  bool excused(const Ack& a) const;

  const SimConfig& config_;
  std::function<void(std::string)> fail_;
  std::map<std::string, std::map<std::uint64_t, std::string>> epoch_owner_;  // game -> epoch -> id
  std::map<std::string, Accepted> accepted_;
  std::map<std::string, std::set<std::string>> superseded_;  // game -> instances whose turn ended
  std::map<std::string, std::vector<Ack>> acks_;
  std::vector<std::pair<std::int64_t, std::string>> killed_at_;
  std::vector<std::pair<std::int64_t, std::set<std::string>>> cut_at_;
};

}  // namespace minotaur::sim
