// The steps of a game as the tests play it: two players meet in a lobby and start a game, play
// it to the end by clicking, and the game's host is restarted (SIGTERM, then started again) in
// the middle, with the API and both pages checked at each step.
import assert from "node:assert/strict";
import { NAMES, STEP_MS, alive, getGame, startAgain, stopGracefully, until } from "./cluster.mjs";
import { dist, onBoard, stepToward } from "./hex.mjs";
import {
  clickHex, pressHex, expectHost, expectLiveElsewhere, expectRegistered, expectRoundOrEnd, shot, signIn, text,
} from "./pages.mjs";

const RESTART_ROUND = 2;  // the round in which the game's host is restarted

// Lobby: Alice creates it, Bob joins with the code Alice's page shows, Alice starts the game.
// Returns the game id.
export async function meetAndStart(A, B, base, shots) {
  await signIn(A, base, "Alice");
  await signIn(B, base, "Bob");
  await A.click("#create-lobby");
  await A.locator("#lobby").waitFor({ state: "visible" });
  await A.waitForFunction(() => /^[A-Z]{6}$/.test(document.getElementById("lobby-code").textContent));
  const code = await text(A, "#lobby-code");
  // Typed in lower case: the node reads it as upper case, and Bob's page shows its spelling.
  await B.fill("#join-code", code.toLowerCase());
  await B.click("#join-form button[type=submit]");
  await B.locator("#lobby").waitFor({ state: "visible" });
  await B.locator("#lobby-wait").waitFor({ state: "visible" });
  assert.equal(await text(B, "#lobby-code"), code);
  // Alice's lobby lists both players (it polls every second) and lets her start.
  await A.locator("#lobby-members li", { hasText: "Bob" }).waitFor();
  assert.match(await text(A, "#lobby-members"), /Alice \(host\) — you/);
  await A.waitForFunction(() => !document.getElementById("start-game").disabled);
  assert.equal(await A.locator("#start-game").isVisible(), true);
  assert.equal(await B.locator("#start-game").isVisible(), false, "only the host may start");
  if (shots) {
    await shot(A, "01-lobby-host");
    await shot(B, "01-lobby-guest");
  }
  await A.click("#start-game");

  // Both pages show the board: 61 hexes (radius 4) and two tokens, one of them "me".
  for (const page of [A, B]) {
    await page.locator("#game").waitFor({ state: "visible" });
    await page.waitForFunction(() => document.querySelectorAll("#board circle.token").length === 2);
    assert.equal(await page.locator("#board polygon.hex").count(), 61);
    assert.equal(await page.locator("#board circle.token.me").count(), 1);
    assert.equal(await page.locator("#board circle.token.foe").count(), 1);
    assert.equal(await text(page, "#round"), "1");
  }
  const gameId = await A.evaluate(() => localStorage.getItem("minotaur.game"));
  assert.ok(gameId, "Alice's page keeps the game id");
  assert.equal(await B.evaluate(() => localStorage.getItem("minotaur.game")), gameId);
  assert.notEqual(await A.evaluate(() => localStorage.getItem("minotaur.user")),
                  await B.evaluate(() => localStorage.getItem("minotaur.user")),
                  "two contexts, two users");
  return gameId;
}

// One player's action, by clicking hex `hex` on their page (or with the keyboard): their page shows it registered and
// draws the plan, and the other player's page (A's or B's) learns of it over the WebSocket.
export async function playClick(A, B, [page, name, type, hex], { keyboard = false } = {}) {
  await (keyboard ? pressHex : clickHex)(page, hex);
  await expectRegistered(page, name, type);
  const other = page === A ? B : A;
  await other.locator("#players li", { hasText: name }).filter({ hasText: "registered" }).waitFor();
}

// Rounds: walk toward each other, then attack. Bob attacks only once, so that Alice (who
// attacks every round) ends with more health and wins instead of both falling together.
// In round RESTART_ROUND, `restart(between)` runs: it stops the host before the round's first
// click, calls `between()` for that click while the host is down, and starts the host again
// before the remaining clicks of the round.
export async function playToTheEnd({ A, B, cluster, gameId, shots, restart }) {
  let bobAttacked = false;
  let movedShot = !shots;
  let attackShot = !shots;
  let readyShot = !shots;
  let logShot = !shots;
  for (let round = 1; ; round++) {
    assert.ok(round <= 15, "the game should be over within 15 rounds");
    const g = await getGame(cluster, gameId);
    assert.equal(g.status, "active");
    assert.equal(g.round, round);
    const radius = g.board_radius || 4;
    const alice = g.players.find((p) => p.display_name === "Alice");
    const bob = g.players.find((p) => p.display_name === "Bob");
    const d = dist(alice.coord, bob.coord);
    const plans = [];
    if (d >= 2) {
      plans.push([A, "Alice", "move", stepToward(alice.coord, bob.coord, radius)]);
      plans.push([B, "Bob", "move", stepToward(bob.coord, alice.coord, radius)]);
    } else {
      plans.push([A, "Alice", "attack", bob.coord]);
      if (!bobAttacked) { plans.push([B, "Bob", "attack", alice.coord]); bobAttacked = true; }
    }
    // Round 3 is played with the keyboard: Tab to the hex, Enter.
    const play = (plan) => playClick(A, B, plan, { keyboard: round === 3 });
    if (round === RESTART_ROUND) {
      await restart(() => play(plans[0]));
      for (const p of plans.slice(1)) await play(p);
    } else {
      for (const p of plans) await play(p);
    }
    if (round === 1 && shots) await shot(A, "03-move-registered");
    if (!attackShot && plans.some((p) => p[2] === "attack")) {
      await shot(A, "05-attack-registered");
      attackShot = true;
    }

    // Alice is done with the round: it waits for Bob, and both pages say so. Bob is done too:
    // the round ends, and both pages move on and tell what happened.
    await A.click("#end-round");
    await A.locator("#ready-wait").waitFor({ timeout: STEP_MS });
    assert.match(await text(A, "#ready-wait"), /waiting for Bob/);
    if (round === 1) {
      // A click on a hex out of reach says why; the error goes once the round
      // it was about ends (Alice is done with the round, so nothing else of hers clears it).
      let far = null;
      for (let q = -radius; q <= radius && !far; q++) {
        for (let r = -radius; r <= radius && !far; r++) {
          if (onBoard({ q, r }, radius) && dist({ q, r }, alice.coord) >= 2 && dist({ q, r }, bob.coord) >= 1) far = { q, r };
        }
      }
      await clickHex(A, far);
      await A.waitForFunction(() => /out of reach/.test(document.querySelector("#error").textContent),
                              null, { timeout: STEP_MS });
    }
    await B.waitForFunction(() => /Alice.*✓ done/.test(document.querySelector("#players").textContent),
                            null, { timeout: STEP_MS });
    assert.equal(await B.locator("#end-round").isVisible(), true, "Bob can still end the round");
    if (!readyShot) {
      await shot(A, "05b-alice-done-waiting-for-bob");
      readyShot = true;
    }
    await B.click("#end-round");
    for (const page of [A, B]) await expectRoundOrEnd(page, round + 1);
    assert.equal(await text(A, "#error"), "", "no error about the round before stays on screen");
    for (const page of [A, B]) {
      await page.locator("#round-log-card").waitFor({ timeout: STEP_MS });
      assert.equal(await text(page, "#round-log-round"), String(round));
    }
    if (!logShot && plans.some((p) => p[2] === "attack")) {
      await shot(B, "05c-round-log-after-an-attack");
      logShot = true;
    }
    if (plans.some((p) => p[2] === "attack")) {
      assert.match(await text(A, "#round-log"), /(hit|missed)/, "the round log tells the attack");
    }

    const after = await getGame(cluster, gameId);
    if (!movedShot && plans.some((p) => p[2] === "move")) {
      // Tokens moved: the page draws them where the server has them.
      for (const page of [A, B]) {
        for (const p of after.players) {
          const want = await page.evaluate((c) => {
            const S = 26, x = S * Math.sqrt(3) * (c.q + c.r / 2), y = S * 1.5 * c.r;
            return [...document.querySelectorAll("#board circle.token")].some((t) =>
              Math.hypot(t.cx.baseVal.value - x, t.cy.baseVal.value - y) <= 10);
          }, p.coord);
          assert.ok(want, `a token is drawn at (${p.coord.q}, ${p.coord.r}) for ${p.display_name}`);
        }
      }
      await shot(A, "04-after-move");
      movedShot = true;
    }
    if (after.status === "concluded") break;
    // No plan is drawn any more: registered actions were emptied.
    assert.equal(await A.locator("#board .plan").count(), 0);
  }

  // The winner, on both pages.
  const end = await getGame(cluster, gameId);
  const winner = end.players.find((p) => p.id === end.winner_player_id);
  assert.equal(winner && winner.display_name, "Alice", "Alice should win");
  for (const page of [A, B]) {
    await page.locator(".winner").waitFor();
    assert.equal(await text(page, ".winner"), "Alice wins!");
    assert.equal(await page.locator("#end-round").isVisible(), false);
    assert.equal(await page.locator("#board circle.token.dead").count(), 1);
  }
  assert.match(await text(B, "#players"), /Bob \(you\) — eliminated/);
  assert.match(await text(A, "#players"), /Alice \(you\) — ♥/);
  return end;
}

// The rolling restart of the game's host, for round RESTART_ROUND of playToTheEnd: `between`
// plays one click while the host is down. Checks the API and both pages at each step.
export function restartHost({ A, B, cluster, gameId, watch, prefix, originLost }) {
  return async (between) => {
    const before = await getGame(cluster, gameId);
    const host = cluster.byName(before.node);
    assert.ok(host, `the game's "node" (${before.node}) is one of ${NAMES}`);
    for (const page of [A, B]) await expectHost(page, host.name, before.epoch);
    await shot(A, `${prefix}-1-before-alice`);
    await shot(B, `${prefix}-1-before-bob`);

    // SIGTERM: the host hands the game to its new owner and exits 0.
    watch.failover = true;
    await stopGracefully(host);
    const moved = await getGame(cluster, gameId);
    assert.notEqual(moved.node, host.name, `the game left ${host.name}`);
    assert.ok(cluster.byName(moved.node) && alive(cluster.byName(moved.node)),
              `the game's new host ${moved.node} is a running node`);
    assert.ok(moved.epoch > before.epoch, `the epoch grew with the hand-off (${before.epoch} -> ${moved.epoch})`);
    assert.equal(moved.round, before.round, "the hand-off kept the round");
    assert.deepEqual(moved.players, before.players, "the hand-off kept the players");
    if (originLost) {
      // The pages' own node is gone: each must reconnect its WebSocket elsewhere.
      for (const page of [A, B]) await expectLiveElsewhere(page, host.name);
    }
    // Both pages are told of the move (the new owner pushes the game over the WebSocket).
    for (const page of [A, B]) await expectHost(page, moved.node, moved.epoch);
    // A click while the host is down.
    await between();
    assert.deepEqual(watch.cors, [], "CORS: the browser refused cross-origin calls to the other nodes");
    await shot(A, `${prefix}-2-host-down-alice`);
    await shot(B, `${prefix}-2-host-down-bob`);

    // Start it again: same name, same ports. Placement over the same three members gives the
    // game to the same node again, so it moves back, with a still higher epoch.
    await startAgain(cluster, host);
    const back = await until(`the game to move back to ${host.name}`, STEP_MS, async () => {
      const g = await getGame(cluster, gameId);
      return g.node === host.name && g;
    });
    assert.ok(back.epoch > moved.epoch, `the epoch grew with the move back (${moved.epoch} -> ${back.epoch})`);
    for (const page of [A, B]) await expectHost(page, host.name, back.epoch);
    // The cluster panel lists the three nodes up again.
    for (const page of [A, B]) {
      await page.waitForFunction((names) => names.every((n) =>
        [...document.querySelectorAll("#members li.up")].some((li) => li.textContent.startsWith(n + ":"))),
      NAMES, { timeout: STEP_MS });
    }
    watch.failover = false;
    const pagesOn = [await text(A, "#my-node"), await text(B, "#my-node")].join(" and ");
    console.log(`${prefix}: game ${gameId} hosted by ${host.name}; SIGTERM ${host.name} (exit 0) -> ` +
                `${moved.node} (epoch ${before.epoch} -> ${moved.epoch}); ${host.name} started again -> ` +
                `${back.node} (epoch ${back.epoch}); the pages are connected to ${pagesOn}`);
    await shot(A, `${prefix}-3-after-alice`);
    await shot(B, `${prefix}-3-after-bob`);
  };
}
