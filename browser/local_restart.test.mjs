// End-to-end test of what a new user does first: `scripts/run.sh` (which runs `minotaur local`),
// a game in the page, Ctrl-C, `scripts/run.sh` again. The real `minotaur local`, with its three
// nodes, in a fresh folder (--dir) on free ports; Debian's headless Chromium, driven by
// playwright-core, with two players (two browser contexts) who meet in a lobby, start a game and
// register one action. Then Ctrl-C stops the whole cluster at once (each node writes its games to
// its data dir in the folder) and `minotaur local` is started again in the same folder while the
// pages stay open. Without a reload, each page must reconnect by itself, show the same game with
// the action registered before (same round and version), and play on: the other player acts, the
// first page sees it, and the round resolves with both actions. Last, a page opened through the
// link `minotaur local` prints (the admin token in its fragment) restarts a node with its kill
// button, through local's control port.
//
//   node --test browser/local_restart.test.mjs     (MINOTAUR_BINARY=... picks the executable)
//   ctest --test-dir build/release -L browser
//
// Screenshots go to browser/artifacts/ (10-local-*.png). The test skips (exit 0, with the reason
// printed) only when /usr/bin/chromium is missing. `minotaur local` and its nodes are killed at
// the end, also on failure, and the folder removed; on failure the output of each run of
// `minotaur local` and the nodes' logs are printed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { STEP_MS, getGame } from "./cluster.mjs";
import { meetAndStart, playClick } from "./game_steps.mjs";
import { dist, stepToward } from "./hex.mjs";
import { newLocal } from "./local.mjs";
import { CHROMIUM, expectHost, expectRoundOrEnd, shot, text, withPages } from "./pages.mjs";

const noChromium = !existsSync(CHROMIUM);
if (noChromium) {
  console.log(`SKIP browser_local_restart: ${CHROMIUM} is missing; scripts/install-deps.sh installs Debian's chromium`);
}
const skip = noChromium ? `${CHROMIUM} is missing (scripts/install-deps.sh installs it)` : false;

// Rounds long enough that no timer ends one while the test runs: the round is the test's to end.
const ROUND_TIME_MS = 600_000;

// What a player sees of the game on a page, and the version the page holds.
async function seen(page) {
  return {
    round: await text(page, "#round"),
    players: await text(page, "#players"),
    version: await page.evaluate(() => S.game && S.game.version),
  };
}

// The lobby, as its members read it (with a member's token).
async function getLobby(local, code, token) {
  const res = await fetch(`${local.base}/api/v1/lobbies/${code}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `GET /api/v1/lobbies/${code} on node1`);
  return res.json();
}

// Waits until the page's WebSocket is open again ("live").
async function expectLive(page, who) {
  await page.waitForFunction(() => document.getElementById("ws-state").textContent === "(live)", null,
                             { timeout: STEP_MS }).catch(async () => {
    throw new Error(`${who}'s page should have reconnected by itself (live) after minotaur local ` +
                    `started again; it shows "${await text(page, "#my-node")} ${await text(page, "#ws-state")}"`);
  });
}

test("minotaur local: Ctrl-C and a new start in the same folder bring the game back to the open pages", {
  skip, timeout: 150_000,
}, async () => {
  const local = await newLocal({ roundTimeMs: ROUND_TIME_MS });
  await withPages(local, async ({ A, B, watch }) => {
    const first = await local.start();
    assert.match(first.out, new RegExp(`their folder is ${local.dir}`), "minotaur local prints its folder");
    const gameId = await meetAndStart(A, B, local.base, false);

    // One action: Alice clicks the hex next to her toward Bob (a move); Bob's page sees it.
    const g1 = await getGame(local, gameId);
    const alice = g1.players.find((p) => p.display_name === "Alice");
    const bob = g1.players.find((p) => p.display_name === "Bob");
    const radius = g1.board_radius || 4;
    // The players start apart (the lobby places them), so each click next to one's token is a
    // move, never an attack.
    assert.ok(dist(alice.coord, bob.coord) >= 3, `the players start apart: ${JSON.stringify(g1.players)}`);
    await playClick(A, B, [A, "Alice", "move", stepToward(alice.coord, bob.coord, radius)]);
    const before = await getGame(local, gameId);
    assert.equal(before.round, 1);
    assert.equal(before.registered_actions.length, 1, "Alice's move is registered");
    // The lobby the game started from stays too, with both members and the game.
    const lobbyCode = await A.evaluate(() => localStorage.getItem("minotaur.lobby"));
    const aliceToken = await A.evaluate(() => localStorage.getItem("minotaur.token"));
    const lobbyBefore = await getLobby(local, lobbyCode, aliceToken);
    assert.equal(lobbyBefore.status, "started");
    assert.equal(lobbyBefore.game_id, gameId);
    const seenBefore = { Alice: await seen(A), Bob: await seen(B) };
    for (const s of Object.values(seenBefore)) assert.equal(s.version, before.version);
    // Marks in the documents: a reload or a navigation would lose them.
    const navigations = { Alice: 0, Bob: 0 };
    for (const [name, page] of [["Alice", A], ["Bob", B]]) {
      page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations[name]++; });
      await page.evaluate(() => { window.sameDocument = true; });
    }
    const urls = [A.url(), B.url()];
    await shot(A, "10-local-1-before-ctrl-c-alice");

    // Ctrl-C: every node stops at once and writes its games to its data dir; the pages lose
    // their connection meanwhile (connection refused, 503 while the nodes leave).
    watch.failover = true;
    await local.interrupt();
    for (const page of [A, B]) {
      await page.waitForFunction(() => document.getElementById("ws-state").textContent !== "(live)",
                                 null, { timeout: STEP_MS });
    }
    await shot(A, "10-local-2-stopped-alice");

    // `scripts/run.sh` again: the same folder, the same ports, the pages still open.
    const second = await local.start();
    assert.doesNotMatch(second.out, /--fresh: removed/, "the second start keeps the games");
    const restarted = Date.now();
    for (const [name, page] of [["Alice", A], ["Bob", B]]) await expectLive(page, name);
    const reconnectMs = Date.now() - restarted;
    const after = await getGame(local, gameId);
    assert.equal(after.status, "active");
    assert.equal(after.round, before.round, "the restart kept the round");
    assert.equal(after.version, before.version, "the restart kept the version: no change lost, none added");
    assert.deepEqual(after.players, before.players, "the restart kept the players");
    assert.deepEqual(after.registered_actions, before.registered_actions, "the restart kept Alice's move");
    assert.equal(after.round_ends_at_ms, before.round_ends_at_ms, "the restart kept the round's deadline");
    // The lobby is back, and Alice's token (the folder keeps the token keys) still signs her in.
    assert.deepEqual(await getLobby(local, lobbyCode, aliceToken), lobbyBefore, "the restart kept the lobby");
    for (const [name, page] of [["Alice", A], ["Bob", B]]) {
      // The same game as before, as the player sees it, in the same document.
      const now = await seen(page);
      assert.deepEqual(now, seenBefore[name], `${name}'s page shows the game as before the restart`);
      assert.equal(await page.evaluate(() => window.sameDocument === true), true, `${name}'s page was not reloaded`);
      assert.equal(navigations[name], 0, `${name}'s page did not navigate`);
      // The cluster panel names the game's host and epoch now.
      await expectHost(page, after.node, after.epoch);
    }
    assert.deepEqual([A.url(), B.url()], urls);
    assert.equal(await A.locator("#board line.plan:not(.attack)").count(), 1, "Alice's page still draws her move");
    await shot(A, "10-local-3-after-restart-alice");
    await shot(B, "10-local-3-after-restart-bob");

    // Play on: Bob acts, and Alice's page sees it over its new WebSocket.
    await playClick(A, B, [B, "Bob", "move", stepToward(bob.coord, alice.coord, radius)]);
    const acted = await getGame(local, gameId);
    assert.equal(acted.version, before.version + 1, "Bob's move is the next version");
    assert.equal(acted.registered_actions.length, 2);
    // Both are done with the round: both moves, hers from before the restart, resolve on both pages.
    await A.click("#end-round");
    await A.locator("#ready-wait").waitFor({ timeout: STEP_MS });
    await B.click("#end-round");
    for (const page of [A, B]) await expectRoundOrEnd(page, 2);
    const resolved = await getGame(local, gameId);
    assert.equal(resolved.round, 2);
    const moved = (p) => resolved.players.find((q) => q.id === p.id).coord;
    assert.deepEqual(moved(alice), stepToward(alice.coord, bob.coord, radius), "Alice's move before the restart applied");
    assert.deepEqual(moved(bob), stepToward(bob.coord, alice.coord, radius), "Bob's move after the restart applied");
    assert.ok(dist(moved(alice), moved(bob)) < dist(alice.coord, bob.coord));
    for (const page of [A, B]) {
      await page.waitForFunction((v) => S.game && S.game.version === v, resolved.version, { timeout: STEP_MS });
    }
    watch.failover = false;
    await shot(A, "10-local-4-round-2-alice");
    console.log(`local restart: game ${gameId} at version ${before.version} (round 1, hosted by ${before.node}, ` +
                `epoch ${before.epoch}); Ctrl-C (minotaur local exited 0 after ${first.stopMs} ms), then a new ` +
                `start in ${local.dir} (running after ${second.startMs} ms) -> version ${after.version} ` +
                `(hosted by ${after.node}, epoch ${after.epoch}); the pages reconnected by themselves ` +
                `${reconnectMs} ms after the new start, and played round 1 to its end (version ${resolved.version})`);

    // The page's buttons: opened through the link minotaur local printed (the admin token in its
    // fragment), the page keeps the token and takes it out of the address bar; its kill button
    // for node3 reaches local's control port (a preflight, then the call with the token), and
    // local restarts node3. A node goes down: the pages may fail over meanwhile.
    watch.failover = true;
    const link = /open (http:\/\/\S+#local-token=\S+)/.exec(second.out);
    assert.ok(link, "minotaur local prints the page's address with the admin token");
    await A.goto(link[1]);
    await A.reload();  // a fragment alone is no new document: load it again, fragment and all
    await A.waitForFunction(() => localStorage.getItem("minotaur.localToken") !== null && !location.hash,
                            null, { timeout: STEP_MS });
    await A.locator("#members li", { hasText: "node3:" }).locator("button", { hasText: "kill" })
      .click({ timeout: STEP_MS });
    await A.waitForFunction(() => document.getElementById("local-state").textContent === "done", null,
                            { timeout: 60_000 });
    assert.match(second.out, /local: from the page: kill 3[\s\S]*local: node3 ready/,
                 "the page's kill button restarted node3 through minotaur local");

    // The end: Ctrl-C once more (the pages lose their connection again), and the folder goes
    // (withPages stops `minotaur local`).
    await local.interrupt();
  });
});
