// A session's key: its kind and its id (a game's id, a lobby's join code). Wherever keys are
// strings — placement, ownership, the replicated store, hand-offs on the wire — they are written
// "game:ID" or "lobby:CODE"; this is the one place that writes and reads that form.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace minotaur::sessions {

struct SessionKey {
  enum class Kind { kGame, kLobby };

  Kind kind = Kind::kGame;
  std::string id;  // a game's id, or a lobby's join code

  static SessionKey game(std::string_view game_id) { return {Kind::kGame, std::string(game_id)}; }
  static SessionKey lobby(std::string_view code) { return {Kind::kLobby, std::string(code)}; }

  // The key a string names; nullopt for a string that is no session key (a peer's bytes are
  // read with this too, so nothing is assumed of them).
  static std::optional<SessionKey> parse(std::string_view key) {
    for (const auto& [kind, prefix] : {std::pair{Kind::kGame, kGamePrefix},
                                       std::pair{Kind::kLobby, kLobbyPrefix}}) {
      if (key.size() > prefix.size() && key.substr(0, prefix.size()) == prefix) {
        return SessionKey{kind, std::string(key.substr(prefix.size()))};
      }
    }
    return std::nullopt;
  }

  bool is_game() const { return kind == Kind::kGame; }
  std::string str() const {
    return std::string(is_game() ? kGamePrefix : kLobbyPrefix) + id;
  }
  bool operator==(const SessionKey&) const = default;

 private:
  static constexpr std::string_view kGamePrefix = "game:";
  static constexpr std::string_view kLobbyPrefix = "lobby:";
};

// The string keys of a game and of a lobby.
inline std::string game_key(std::string_view game_id) { return SessionKey::game(game_id).str(); }
inline std::string lobby_key(std::string_view code) { return SessionKey::lobby(code).str(); }

}  // namespace minotaur::sessions
