// SimHost: the session host of a simulated node, whose states are opaque. A state is the list of
// accepted action ids, as text ("17,42,"), so that it travels as bytes; the game rules are tested
// elsewhere, here a state only has to show which acknowledged actions it holds.
//
// It implements what the node core needs of a host (sessions::SessionStates), as SessionHost
// does in a node; on_install lets the checkers look at every session a node starts.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sessions/ownership.h"

namespace minotaur::sim {

class SimHost final : public sessions::SessionStates {
 public:
  struct Session {
    std::uint64_t epoch = 0;
    std::string state;
    bool frozen = false;
  };
  bool hosts(const std::string& key) const override { return sessions_.count(key) != 0; }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [k, s] : sessions_) out.push_back(k);
    return out;
  }
  std::uint64_t epoch(const std::string& key) const override {
    auto it = sessions_.find(key);
    return it == sessions_.end() ? 0 : it->second.epoch;
  }
  std::pair<std::string, bool> export_state(const std::string& key) const override {
    return {sessions_.at(key).state, true};
  }
  Result<Ok, std::string> install(const std::string& key, std::string_view state, bool,
                                  std::uint64_t epoch) override {
    if (hosts(key)) return err(std::string("already hosted"));
    sessions_[key] = Session{epoch, std::string(state), false};
    if (on_install) on_install(key, sessions_[key]);
    return Ok{};
  }
  void remove(const std::string& key) override { sessions_.erase(key); }
  void set_frozen(const std::string& key, bool frozen) override {
    if (auto it = sessions_.find(key); it != sessions_.end()) it->second.frozen = frozen;
  }
  bool frozen(const std::string& key) const override {
    auto it = sessions_.find(key);
    return it != sessions_.end() && it->second.frozen;
  }
  std::function<void(const std::string&, const Session&)> on_install;
  Session* find(const std::string& key) {
    auto it = sessions_.find(key);
    return it == sessions_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, Session> sessions_;
};

}  // namespace minotaur::sim
