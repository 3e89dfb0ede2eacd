// The game and the lobbies every release's state fixture holds (proto/testdata/release-*/), built
// through the game's own rules, so that each release's fixture is what its nodes write. Only
// calls every release has are used here (the writer is compiled against a release's own tree
// when its fixture is made); a field a later release adds keeps its starting value, and the
// test of an older fixture says what that value reads as.
#pragma once

#include "game/actions.h"
#include "game/game.h"
#include "game/lobby.h"
#include "game/round.h"

namespace minotaur::proto::testdata {

// Three players in round 2: one hit (and one action point spent) in round 1, an attack and a
// move registered in round 2, a board of radius 5, a join code.
inline game::Game sample_game() {
  game::Player a;
  a.id = 1;
  a.user_id = "u_ana";
  a.display_name = "Ana";
  a.coord = {0, 0};
  game::Player b = a;
  b.id = 2;
  b.user_id = "u_bo";
  b.display_name = "Bo";
  b.coord = {1, -1};
  game::Player c = a;
  c.id = 3;
  c.user_id = "u_cy";
  c.display_name = "Cy";
  c.coord = {-4, 2};
  game::Game g = game::new_game("g_fixture", {a, b, c}, 1764193234567);
  g.join_code = "QXJRPT";
  g.board_radius = 5;
  (void)game::register_attack(g, "u_ana", 2);
  (void)game::end_round(g, 1764193264567);
  (void)game::register_attack(g, "u_bo", 1);
  (void)game::register_move(g, "u_cy", {1, 0});
  return g;
}

// An open lobby of two, and a started one of three whose game is g_fixture.
inline game::Lobby sample_open_lobby() {
  game::Lobby l = game::new_lobby("LOBBYA", {"u_ana", "Ana"});
  (void)game::join_lobby(l, {"u_bo", "Bo"});
  l.changed_at_ms = 1764193200000;
  return l;
}

inline game::Lobby sample_started_lobby() {
  game::Lobby l = game::new_lobby("QXJRPT", {"u_ana", "Ana"});
  (void)game::join_lobby(l, {"u_bo", "Bo"});
  (void)game::join_lobby(l, {"u_cy", "Cy"});
  (void)game::start_game(l, "u_ana", "g_fixture", 1764193234567);
  l.changed_at_ms = 1764193201000;
  return l;
}

}  // namespace minotaur::proto::testdata
