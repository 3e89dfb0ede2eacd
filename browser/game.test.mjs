// End-to-end test of the browser game: Debian's headless Chromium, driven by playwright-core,
// against a real `minotaur node` process. Two players (two browser contexts, so two separate
// localStorages) meet in a lobby, play rounds by clicking hexes, and one of them wins.
//
//   node --test browser/game.test.mjs          (MINOTAUR_BINARY=... picks the executable)
//   ctest --test-dir build/release -L browser
//
// Screenshots of the key moments go to browser/artifacts/. The test skips (exit 0, with the
// reason printed) only when /usr/bin/chromium is missing; scripts/install-deps.sh installs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(HERE, "artifacts");
const CHROMIUM = "/usr/bin/chromium";
const BINARY = process.env.MINOTAUR_BINARY || "/work/mine/build/release/app/minotaur";
// Playwright gives every launch a fresh --user-data-dir of its own (a new temporary folder,
// removed on close) and refuses the flag in `args`, so it is not passed here.
const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const STEP_MS = 15_000;  // the longest any single page change may take (CI runs tests in parallel)

// ---- the node under test -------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startNode() {
  assert.ok(existsSync(BINARY), `no minotaur executable at ${BINARY}; build it or set MINOTAUR_BINARY`);
  const dir = mkdtempSync(join(tmpdir(), "minotaur-browser-"));
  const cookieFile = join(dir, "cookie");
  const adminFile = join(dir, "admin");
  const adminToken = "admin-" + randomBytes(16).toString("hex");
  writeFileSync(cookieFile, "cookie-" + randomBytes(24).toString("hex") + "\n", { mode: 0o600 });
  writeFileSync(adminFile, adminToken + "\n", { mode: 0o600 });
  const clusterPort = await freePort();
  const httpPort = await freePort();
  const args = ["node", "--name", "web1", "--cluster", `127.0.0.1:${clusterPort}`,
                "--http", `127.0.0.1:${httpPort}`, "--cookie-file", cookieFile,
                "--admin-token-file", adminFile, "--round-time-ms", "60000"];
  const proc = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
  const node = {
    proc, dir, adminToken, base: `http://127.0.0.1:${httpPort}`, log: "", exited: null,
  };
  proc.stdout.on("data", (d) => { node.log += d; });
  proc.stderr.on("data", (d) => { node.log += d; });
  proc.on("exit", (code, signal) => { node.exited = { code, signal }; });
  // Last resort (a test timeout, an uncaught error): never leave the node running.
  process.on("exit", () => { if (!node.exited) proc.kill("SIGKILL"); });
  node.stop = async () => {
    if (!node.exited) {
      proc.kill("SIGTERM");
      for (let i = 0; i < 50 && !node.exited; i++) await sleep(100);
      if (!node.exited) proc.kill("SIGKILL");
      for (let i = 0; i < 20 && !node.exited; i++) await sleep(100);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (node.exited) {
      throw new Error(`minotaur node exited before it was ready (${JSON.stringify(node.exited)})`);
    }
    try {
      const res = await fetch(node.base + "/readyz");
      if (res.status === 200) return node;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await node.stop();
      throw new Error("minotaur node did not answer GET /readyz with 200 within 15 s\n" + node.log);
    }
    await sleep(100);
  }
}

async function getGame(node, id) {
  const res = await fetch(`${node.base}/api/v1/games/${id}`);
  assert.equal(res.status, 200, `GET /api/v1/games/${id}`);
  return res.json();
}

// ---- hex arithmetic (SPEC.md section 1) ----------------------------------------------------

const UNIT = [[1, 0], [1, -1], [0, -1], [-1, 0], [-1, 1], [0, 1]];
const dist = (a, b) => (Math.abs(a.q - b.q) + Math.abs(a.r - b.r) + Math.abs(a.q + a.r - b.q - b.r)) / 2;
const onBoard = (h, R) => Math.max(Math.abs(h.q), Math.abs(h.r), Math.abs(h.q + h.r)) <= R;

// The neighbouring hex of `from` that is closest to `to`.
function stepToward(from, to, radius) {
  let best = null;
  for (const [dq, dr] of UNIT) {
    const h = { q: from.q + dq, r: from.r + dr };
    if (onBoard(h, radius) && (!best || dist(h, to) < dist(best, to))) best = h;
  }
  return best;
}

// ---- the page --------------------------------------------------------------------------------

const text = (page, sel) => page.locator(sel).innerText();

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, name + ".png"), fullPage: true });
}

async function signIn(page, base, name) {
  await page.goto(base + "/");
  await page.locator("#signin").waitFor({ state: "visible" });
  await page.fill("#display-name", name);
  await page.click("#signin-form button[type=submit]");
  await page.locator("#lobby-choice").waitFor({ state: "visible" });
  assert.match(await text(page, "#who"), new RegExp(`playing as ${name}`));
}

// Clicks hex (q, r) on the page's board, as a player would.
async function clickHex(page, h) {
  await page.locator(`#board polygon.hex[data-q="${h.q}"][data-r="${h.r}"]`).click();
}

// Waits until the page's players list shows `name` as registered and the board draws the plan.
async function expectRegistered(page, name, type) {
  await page.locator("#players li", { hasText: name }).filter({ hasText: "registered" })
    .waitFor({ timeout: STEP_MS });
  // An attack on a player on one's own hex is drawn as a ring, any other plan as an arrow.
  await page.locator(type === "attack" ? "#board .plan.attack" : "#board line.plan:not(.attack)")
    .waitFor({ state: "attached", timeout: STEP_MS });
}

// Waits until the page shows round `n` or a winner.
async function expectRoundOrEnd(page, n) {
  await page.waitForFunction(
    (n) => document.getElementById("round").textContent === String(n) || !!document.querySelector(".winner"),
    n, { timeout: STEP_MS });
}

// ---- the test --------------------------------------------------------------------------------

const noChromium = !existsSync(CHROMIUM);
if (noChromium) {
  console.log(`SKIP browser_game: ${CHROMIUM} is missing; scripts/install-deps.sh installs Debian's chromium`);
}

test("two players play a game to the end by clicking in Chromium", {
  skip: noChromium ? `${CHROMIUM} is missing (scripts/install-deps.sh installs it)` : false,
  timeout: 90_000,
}, async () => {
  const { chromium } = await import("playwright-core");
  mkdirSync(ARTIFACTS, { recursive: true });
  const node = await startNode();
  let browser = null;
  const pageErrors = [];
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const pages = {};
    for (const name of ["Alice", "Bob"]) {
      // A context of its own for each player: separate localStorage, as two people's browsers.
      const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
      ctx.setDefaultTimeout(STEP_MS);
      const page = await ctx.newPage();
      page.on("pageerror", (e) => pageErrors.push(`${name}: ${e.message}`));
      page.on("console", (m) => { if (m.type() === "error") pageErrors.push(`${name} console: ${m.text()}`); });
      page.on("response", (r) => {
        if (r.status() >= 400) pageErrors.push(`${name}: ${r.request().method()} ${r.url()} -> ${r.status()}`);
      });
      pages[name] = page;
    }
    const A = pages.Alice, B = pages.Bob;

    // Lobby: Alice creates it, Bob joins with the code Alice's page shows.
    await signIn(A, node.base, "Alice");
    await signIn(B, node.base, "Bob");
    await A.click("#create-lobby");
    await A.locator("#lobby").waitFor({ state: "visible" });
    await A.waitForFunction(() => /^[A-Z]{4}$/.test(document.getElementById("lobby-code").textContent));
    const code = await text(A, "#lobby-code");
    await B.fill("#join-code", code);
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
    await shot(A, "01-lobby-host");
    await shot(B, "01-lobby-guest");
    await A.click("#start-game");

    // Both pages show the board: 61 hexes (radius 4) and two tokens, one of them "me".
    for (const page of [A, B]) {
      await page.locator("#game").waitFor({ state: "visible" });
      await page.waitForFunction(() => document.querySelectorAll("#board circle.token").length === 2);
      assert.equal(await page.locator("#board polygon.hex").count(), 61);
      assert.equal(await page.locator("#board circle.token.me").count(), 1);
      assert.equal(await page.locator("#board circle.token.foe").count(), 1);
      assert.equal(await text(page, "#round"), "1");
      assert.equal(await text(page, "#host-node"), "web1");
    }
    const gameId = await A.evaluate(() => localStorage.getItem("minotaur.game"));
    assert.ok(gameId, "Alice's page keeps the game id");
    assert.equal(await B.evaluate(() => localStorage.getItem("minotaur.game")), gameId);
    assert.notEqual(await A.evaluate(() => localStorage.getItem("minotaur.user")),
                    await B.evaluate(() => localStorage.getItem("minotaur.user")),
                    "two contexts, two users");
    await shot(A, "02-first-board");

    // Rounds: walk toward each other, then attack. Bob attacks only once, so that Alice (who
    // attacks every round) ends with more health and wins instead of both falling together.
    let bobAttacked = false;
    let movedShot = false;
    let attackShot = false;
    for (let round = 1; ; round++) {
      assert.ok(round <= 15, "the game should be over within 15 rounds");
      const g = await getGame(node, gameId);
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
      for (const [page, name, type, hex] of plans) {
        await clickHex(page, hex);
        await expectRegistered(page, name, type);
        // The other player's page learns of it over the WebSocket.
        const other = page === A ? B : A;
        await other.locator("#players li", { hasText: name }).filter({ hasText: "registered" }).waitFor();
      }
      if (round === 1) await shot(A, "03-move-registered");
      if (!attackShot && plans.some((p) => p[2] === "attack")) {
        await shot(A, "05-attack-registered");
        attackShot = true;
      }

      // TODO(issue 5): restart the hosting node here, mid-game, and go on playing in the same
      // pages: SIGTERM the node named in GET /api/v1/games/{id} "node" (with a second node
      // seeded from web1 running), check that #host-node shows the new owner and that the next
      // clicks and the end of the round still work. This needs session hand-off (SPEC.md
      // section 4, guarantee 1), which does not exist yet; see the test.todo below.

      // Alice ends the round with the button; both pages move on.
      await A.click("#end-round");
      for (const page of [A, B]) await expectRoundOrEnd(page, round + 1);

      const after = await getGame(node, gameId);
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
    const end = await getGame(node, gameId);
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
    await shot(A, "06-winner-alice");
    await shot(B, "06-winner-bob");
    for (const page of [A, B]) assert.equal(await text(page, "#error"), "", "no error shown on the page");

    // A finished game can be left: Bob's page goes back to creating or joining a lobby.
    await B.click("#leave-game");
    await B.locator("#lobby-choice").waitFor({ state: "visible" });
    assert.equal(await B.evaluate(() => localStorage.getItem("minotaur.game")), null);
    assert.deepEqual(pageErrors, [], "no JavaScript errors in the pages");
  } catch (e) {
    console.error(`---- log of minotaur node web1 (${BINARY}) ----\n${node.log}\n---- end of log ----`);
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await node.stop();
  }
});

test.todo("the hosting node restarts mid-game and play goes on in the same pages " +
          "(needs session hand-off, SPEC.md section 4; see the TODO(issue 5) in the game test)");
