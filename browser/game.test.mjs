// End-to-end test of the browser game: Debian's headless Chromium, driven by playwright-core,
// against a real cluster of three `minotaur node` processes (web1..web3) on 127.0.0.1. Two
// players (two browser contexts, so two separate localStorages) meet in a lobby, play rounds by
// clicking hexes, and one of them wins — while, mid-game, the node hosting the game is stopped
// with SIGTERM and started again with the same name and ports (a rolling deploy). The pages are
// never reloaded after that: they must keep playing, and keep receiving each other's moves over
// the WebSocket, while the game moves to another node and back.
//
//   1. The host is not the node the pages come from: the pages' HTTP calls and WebSocket stay
//      on their node, which forwards to the new owner and relays its pushes.
//   2. The host is the node the pages come from: the pages lose their origin and must fail over
//      to another node, cross-origin (CORS, a preflight for the Authorization header).
//
// Both players sign in and meet in the lobby on web1. Where the game lands is up to placement
// (a hash of its random id), so when it does not fit the case, the pages are opened on a node
// that does (their localStorage carried over) before the game is played; from then on, and
// through the restart, they are never reloaded.
//
//   node --test browser/game.test.mjs          (MINOTAUR_BINARY=... picks the executable)
//   ctest --test-dir build/release -L browser
//
// Screenshots of the key moments go to browser/artifacts/. The test skips (exit 0, with the
// reason printed) only when /usr/bin/chromium is missing; scripts/install-deps.sh installs it.
// Every node is killed at the end of each test, also on failure, and on failure the logs of
// all nodes are printed.
//
// The test's parts: cluster.mjs (the nodes), pages.mjs (the browser and the pages),
// game_steps.mjs (meeting, playing, restarting the host), hex.mjs (planning clicks).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { checkCors, getGame } from "./cluster.mjs";
import { meetAndStart, playToTheEnd, restartHost } from "./game_steps.mjs";
import {
  CHROMIUM, expectHost, expectMyNode, moveTo, shot, staleTokenSignsOut, text, withCluster,
} from "./pages.mjs";

// ---- the tests -------------------------------------------------------------------------------

const noChromium = !existsSync(CHROMIUM);
if (noChromium) {
  console.log(`SKIP browser_game: ${CHROMIUM} is missing; scripts/install-deps.sh installs Debian's chromium`);
}
const skip = noChromium ? `${CHROMIUM} is missing (scripts/install-deps.sh installs it)` : false;

test("two players play a game to the end by clicking, while the game's host (not the pages' node) restarts", {
  skip, timeout: 60_000,
}, () => withCluster(async ({ A, B, cluster, watch }) => {
  const web1 = cluster.byName("web1");
  await staleTokenSignsOut(A, web1.base, watch);
  const gameId = await meetAndStart(A, B, web1.base, true);
  const start = await getGame(cluster, gameId);
  for (const page of [A, B]) await expectHost(page, start.node, start.epoch);
  // The pages are to stay on a node that does not host the game: web1 unless web1 hosts it.
  let origin = web1;
  if (start.node === web1.name) {
    origin = cluster.nodes.find((n) => n.name !== start.node);
    for (const page of [A, B]) await moveTo(page, origin.base);
  }
  for (const page of [A, B]) await expectMyNode(page, origin.name);
  await shot(A, "02-first-board");

  const restart = restartHost({ A, B, cluster, gameId, watch, prefix: "07-restart-host" });
  await playToTheEnd({ A, B, cluster, gameId, shots: true, restart });
  // The pages never left their node: the game's moves were invisible to them but for the panel.
  for (const page of [A, B]) {
    assert.equal(await text(page, "#my-node"), origin.name);
    assert.equal(new URL(page.url()).origin, origin.base);
  }
  assert.deepEqual(watch.crossOrigin, [], "the pages called no other node than their own");
  await shot(A, "06-winner-alice");
  await shot(B, "06-winner-bob");

  // A finished game can be left: Bob's page goes back to creating or joining a lobby.
  await B.click("#leave-game");
  await B.locator("#lobby-choice").waitFor({ state: "visible" });
  assert.equal(await B.evaluate(() => localStorage.getItem("minotaur.game")), null);
}));

test("the pages' own node hosts the game and restarts: the pages fail over to another node", {
  skip, timeout: 60_000,
}, () => withCluster(async ({ A, B, cluster, watch }) => {
  const web1 = cluster.byName("web1");
  const gameId = await meetAndStart(A, B, web1.base, false);
  const start = await getGame(cluster, gameId);
  // The pages are to come from the node that hosts the game.
  const origin = cluster.byName(start.node);
  if (origin !== web1) for (const page of [A, B]) await moveTo(page, origin.base);
  for (const page of [A, B]) {
    await expectMyNode(page, origin.name);
    await expectHost(page, origin.name, start.epoch);
  }
  // The other nodes must let the page call them from its origin.
  for (const n of cluster.nodes) if (n !== origin) await checkCors(origin, n);

  const restart = restartHost({ A, B, cluster, gameId, watch, prefix: "08-restart-origin", originLost: true });
  await playToTheEnd({ A, B, cluster, gameId, shots: false, restart });
  // The pages were never reloaded: still the page of the first origin, now talking to another node.
  for (const page of [A, B]) {
    assert.equal(new URL(page.url()).origin, origin.base);
    assert.notEqual(await text(page, "#my-node"), origin.name);
  }
  // ... with cross-origin calls that carry the Authorization header, answered with 200.
  for (const name of ["Alice", "Bob"]) {
    const posts = watch.crossOrigin.filter((r) => r.name === name && r.method === "POST");
    assert.ok(posts.length > 0 && posts.every((r) => r.status === 200),
              `${name}'s page made cross-origin POSTs after the failover, all answered 200: ` +
              JSON.stringify(posts));
  }
  await shot(A, "08-restart-origin-3-winner-alice");
  await shot(B, "08-restart-origin-3-winner-bob");
}));

