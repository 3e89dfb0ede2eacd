#include "proto/codec.h"

#include <fmt/format.h>
#include <google/protobuf/unknown_field_set.h>

#include <optional>
#include <set>

#include "game/join_code.h"
#include "game/validate.h"
#include "proto/game.pb.h"
#include "proto/upgrade.h"

namespace minotaur::proto {
namespace {

v1::Coord to_proto(game::Hex h) {
  v1::Coord c;
  c.set_q(h.q);
  c.set_r(h.r);
  return c;
}

game::Hex from_proto(const v1::Coord& c) {
  return game::Hex{c.q(), c.r()};
}

v1::RoundEvent::Kind to_proto(game::RoundEvent::Kind k) {
  switch (k) {
    case game::RoundEvent::Kind::kMove:
      return v1::RoundEvent::KIND_MOVE;
    case game::RoundEvent::Kind::kHit:
      return v1::RoundEvent::KIND_HIT;
    case game::RoundEvent::Kind::kMiss:
      return v1::RoundEvent::KIND_MISS;
    case game::RoundEvent::Kind::kEliminated:
      return v1::RoundEvent::KIND_ELIMINATED;
  }
  MINOTAUR_ASSERT(false);
  return v1::RoundEvent::KIND_UNSPECIFIED;
}

std::optional<game::RoundEvent::Kind> from_proto(v1::RoundEvent::Kind k) {
  switch (k) {
    case v1::RoundEvent::KIND_MOVE:
      return game::RoundEvent::Kind::kMove;
    case v1::RoundEvent::KIND_HIT:
      return game::RoundEvent::Kind::kHit;
    case v1::RoundEvent::KIND_MISS:
      return game::RoundEvent::Kind::kMiss;
    case v1::RoundEvent::KIND_ELIMINATED:
      return game::RoundEvent::Kind::kEliminated;
    default:
      return std::nullopt;
  }
}

// The fields of `m` this build does not know (a newer build wrote them), encoded, so that a state
// this build changes passes them on (proto/EVOLUTION.md, rule 3).
std::string newer_fields_of(const google::protobuf::Message& m) {
  const google::protobuf::UnknownFieldSet& unknown = m.GetReflection()->GetUnknownFields(m);
  if (unknown.empty()) return {};  // nearly always: decoding stays as cheap as before
  std::string out;
  const bool ok = unknown.SerializeToString(&out);
  MINOTAUR_ASSERT(ok);
  return out;
}

void pass_on(const std::string& newer_fields, google::protobuf::Message& m) {
  if (newer_fields.empty()) return;
  const bool ok = m.GetReflection()->MutableUnknownFields(&m)->ParseFromString(newer_fields);
  MINOTAUR_ASSERT(ok);  // bytes newer_fields_of wrote
}

std::string serialize(const google::protobuf::MessageLite& m) {
  std::string out;
  const bool ok = m.SerializeToString(&out);
  MINOTAUR_ASSERT(ok);  // only fails for messages over 2 GiB
  return out;
}

}  // namespace

std::string encode_game(const game::Game& g) {
  v1::Game m;
  m.set_id(g.id);
  m.set_status(g.status == game::Status::kActive ? v1::GAME_STATUS_ACTIVE
                                                 : v1::GAME_STATUS_CONCLUDED);
  m.set_round(g.round);
  m.set_round_ends_at_ms(g.round_ends_at_ms);
  for (const game::Player& p : g.players) {
    v1::Player* pm = m.add_players();
    pm->set_id(p.id);
    pm->set_user_id(p.user_id);
    pm->set_display_name(p.display_name);
    pm->set_health(p.health);
    pm->set_action_points(p.action_points);
    *pm->mutable_coord() = to_proto(p.coord);
    pm->set_ready(p.ready);
    pass_on(p.newer_fields, *pm);
  }
  for (const game::RegisteredAction& a : g.registered_actions) {
    v1::RegisteredAction* am = m.add_registered_actions();
    am->set_player_id(a.player_id);
    if (const auto* mv = std::get_if<game::Move>(&a.action)) {
      *am->mutable_move()->mutable_vector() = to_proto(mv->vector);
    } else {
      am->mutable_attack()->set_target_player_id(std::get<game::Attack>(a.action).target_player_id);
    }
  }
  if (g.winner_player_id) m.set_winner_player_id(*g.winner_player_id);
  m.set_version(g.version);
  m.set_join_code(g.join_code);
  m.set_board_radius(g.board_radius);
  m.set_state_version(kStateVersion);
  m.set_last_resolved_round(g.last_resolved_round);
  for (const game::RoundEvent& e : g.last_round_events) {
    v1::RoundEvent* em = m.add_last_round_events();
    em->set_kind(to_proto(e.kind));
    em->set_player_id(e.player_id);
    em->set_target_player_id(e.target_player_id);
    if (e.kind == game::RoundEvent::Kind::kMove) {
      *em->mutable_from() = to_proto(e.from);
      *em->mutable_to() = to_proto(e.to);
    }
  }
  pass_on(g.newer_fields, m);
  return serialize(m);
}

Result<game::Game, std::string> decode_game(std::string_view bytes) {
  v1::Game m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return err(std::string("not a game: the bytes are not a valid minotaur.v1.Game message"));
  }
  upgrade(m);
  game::Game g;
  g.id = m.id();
  switch (m.status()) {
    case v1::GAME_STATUS_ACTIVE:
      g.status = game::Status::kActive;
      break;
    case v1::GAME_STATUS_CONCLUDED:
      g.status = game::Status::kConcluded;
      break;
    default:
      return err(
          fmt::format("game status {} is unknown: written by a newer version? upgrade "
                      "this node",
                      static_cast<int>(m.status())));
  }
  g.round = m.round();
  g.round_ends_at_ms = m.round_ends_at_ms();
  for (const v1::Player& pm : m.players()) {
    game::Player p;
    p.id = pm.id();
    p.user_id = pm.user_id();
    p.display_name = pm.display_name();
    p.health = pm.health();
    p.action_points = pm.action_points();
    p.coord = from_proto(pm.coord());
    p.ready = pm.ready();
    p.newer_fields = newer_fields_of(pm);
    g.players.push_back(std::move(p));
  }
  for (const v1::RegisteredAction& am : m.registered_actions()) {
    game::RegisteredAction a;
    a.player_id = am.player_id();
    switch (am.action_case()) {
      case v1::RegisteredAction::kMove:
        a.action = game::Move{from_proto(am.move().vector())};
        break;
      case v1::RegisteredAction::kAttack:
        a.action = game::Attack{am.attack().target_player_id()};
        break;
      default:
        return err(
            std::string("a registered action has no known kind: written by a newer "
                        "version? upgrade this node"));
    }
    g.registered_actions.push_back(std::move(a));
  }
  if (m.has_winner_player_id()) g.winner_player_id = m.winner_player_id();
  g.version = m.version();
  g.join_code = m.join_code();
  g.board_radius = m.board_radius();
  g.last_resolved_round = m.last_resolved_round();
  for (const v1::RoundEvent& em : m.last_round_events()) {
    const std::optional<game::RoundEvent::Kind> kind = from_proto(em.kind());
    if (!kind) continue;  // a kind a newer version added: the log is informational
    g.last_round_events.push_back(game::RoundEvent{*kind, em.player_id(), em.target_player_id(),
                                                   from_proto(em.from()), from_proto(em.to())});
  }
  g.newer_fields = newer_fields_of(m);
  if (auto ok = game::validate(g); !ok) return err("invalid game: " + ok.error());
  return g;
}

std::string encode_lobby(const game::Lobby& l) {
  v1::Lobby m;
  m.set_join_code(l.join_code);
  m.set_host_user_id(l.host_user_id);
  for (const game::LobbyMember& mem : l.members) {
    v1::LobbyMember* mm = m.add_members();
    mm->set_user_id(mem.user_id);
    mm->set_display_name(mem.display_name);
  }
  m.set_status(l.status == game::LobbyStatus::kOpen ? v1::LOBBY_STATUS_OPEN
                                                    : v1::LOBBY_STATUS_STARTED);
  m.set_game_id(l.game_id);
  m.set_version(l.version);
  m.set_changed_at_ms(l.changed_at_ms);
  m.set_state_version(kStateVersion);
  pass_on(l.newer_fields, m);
  return serialize(m);
}

Result<game::Lobby, std::string> decode_lobby(std::string_view bytes) {
  v1::Lobby m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return err(std::string("not a lobby: the bytes are not a valid minotaur.v1.Lobby message"));
  }
  upgrade(m);
  game::Lobby l;
  l.join_code = m.join_code();
  l.host_user_id = m.host_user_id();
  std::set<std::string> users;
  bool host_is_member = false;
  for (const v1::LobbyMember& mm : m.members()) {
    if (!game::is_valid_id(mm.user_id()) || mm.display_name().empty() ||
        mm.display_name().size() > game::kMaxDisplayNameBytes) {
      return err(std::string("invalid lobby: a member has a bad user id or display name"));
    }
    if (!users.insert(mm.user_id()).second) {
      return err(std::string("invalid lobby: a user is a member twice"));
    }
    host_is_member = host_is_member || mm.user_id() == l.host_user_id;
    l.members.push_back({mm.user_id(), mm.display_name()});
  }
  switch (m.status()) {
    case v1::LOBBY_STATUS_OPEN:
      l.status = game::LobbyStatus::kOpen;
      break;
    case v1::LOBBY_STATUS_STARTED:
      l.status = game::LobbyStatus::kStarted;
      break;
    default:
      return err(
          fmt::format("lobby status {} is unknown: written by a newer version? upgrade "
                      "this node",
                      static_cast<int>(m.status())));
  }
  l.game_id = m.game_id();
  l.version = m.version();
  l.changed_at_ms = m.changed_at_ms();
  l.newer_fields = newer_fields_of(m);
  if (l.changed_at_ms < 0) return err(std::string("invalid lobby: a negative change time"));
  if (!game::is_join_code(l.join_code)) return err(std::string("invalid lobby: bad join code"));
  if (!host_is_member) return err(std::string("invalid lobby: the host is not a member"));
  if (l.members.size() > game::kMaxPlayers) {
    return err(std::string("invalid lobby: more than 8 members"));
  }
  const bool started = l.status == game::LobbyStatus::kStarted;
  if (started != game::is_valid_id(l.game_id) || (!started && !l.game_id.empty())) {
    return err(std::string("invalid lobby: a started lobby has a game id, an open one none"));
  }
  return l;
}

}  // namespace minotaur::proto
