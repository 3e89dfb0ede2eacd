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
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
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
const NAMES = ["web1", "web2", "web3"];
const RESTART_ROUND = 2;  // the round in which the game's host is restarted

// ---- the cluster under test ------------------------------------------------------------------

const usedPorts = new Set();
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  }).then((port) => (usedPorts.has(port) ? freePort() : (usedPorts.add(port), port)));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `probe` (an async function returning a truthy value when done) until `ms` have passed;
// the error says what was awaited and what the last probe saw.
async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = "not yet";
    } catch (e) { last = e.message; }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
    await sleep(100);
  }
}

// Starts (or starts again, after it exited) one node with its fixed name and ports.
function spawnNode(cluster, node, seeds) {
  const args = ["node", "--name", node.name, "--cluster", node.cluster, "--http", node.http,
                "--cookie-file", cluster.cookieFile, "--admin-token-file", cluster.adminFile,
                "--token-keys-file", cluster.tokenKeysFile,
                "--round-time-ms", "60000"];
  if (seeds.length) args.push("--seeds", seeds.join(","));
  const proc = spawn(BINARY, args, { stdio: ["ignore", "pipe", "pipe"] });
  node.proc = proc;
  node.exited = null;
  node.starts = (node.starts || 0) + 1;
  node.log += `==== ${node.name} start #${node.starts} (pid ${proc.pid}): ${args.join(" ")}\n`;
  proc.stdout.on("data", (d) => { node.log += d; });
  proc.stderr.on("data", (d) => { node.log += d; });
  proc.on("exit", (code, signal) => {
    if (node.proc === proc) node.exited = { code, signal };
    node.log += `==== ${node.name} pid ${proc.pid} exited: code ${code}, signal ${signal}\n`;
  });
}

const alive = (node) => node.proc && !node.exited;

async function waitReady(node) {
  await until(`${node.name} to answer GET /readyz with 200`, STEP_MS, async () => {
    if (node.exited) throw new Error(`${node.name} exited: ${JSON.stringify(node.exited)}`);
    return (await fetch(node.base + "/readyz")).status === 200;
  });
}

// Waits until every running node lists every running node as "up", with its HTTP address.
async function waitAllUp(cluster) {
  const running = cluster.nodes.filter(alive);
  for (const node of running) {
    await until(`${node.name}'s GET /api/v1/cluster to list ${running.map((n) => n.name)} as up`,
                STEP_MS, async () => {
      const c = await (await fetch(node.base + "/api/v1/cluster")).json();
      return running.every((n) => c.members.some((m) =>
        m.name === n.name && m.status === "up" && m.http === n.http));
    });
  }
}

async function startCluster() {
  assert.ok(existsSync(BINARY), `no minotaur executable at ${BINARY}; build it or set MINOTAUR_BINARY`);
  const dir = mkdtempSync(join(tmpdir(), "minotaur-browser-"));
  const cluster = {
    dir, cookieFile: join(dir, "cookie"), adminFile: join(dir, "admin"),
    tokenKeysFile: join(dir, "token-keys"),
    adminToken: "admin-" + randomBytes(16).toString("hex"), nodes: [],
  };
  writeFileSync(cluster.cookieFile, randomBytes(32).toString("base64url") + "\n", { mode: 0o600 });
  execFileSync(BINARY, ["token-keys", "new", cluster.tokenKeysFile]);
  writeFileSync(cluster.adminFile, cluster.adminToken + "\n", { mode: 0o600 });
  // Last resort (a test timeout, an uncaught error): never leave a node running.
  const onExit = () => { for (const n of cluster.nodes) if (alive(n)) n.proc.kill("SIGKILL"); };
  process.on("exit", onExit);
  cluster.byName = (name) => cluster.nodes.find((n) => n.name === name);
  cluster.live = () => cluster.nodes.find(alive);
  cluster.logs = () => cluster.nodes.map((n) =>
    `---- log of minotaur node ${n.name} (${BINARY}) ----\n${n.log}---- end of log of ${n.name} ----`).join("\n");
  cluster.stop = async () => {
    for (const n of cluster.nodes) if (alive(n)) n.proc.kill("SIGKILL");
    await until("every node to exit", 5000, async () => !cluster.nodes.some(alive)).catch(() => {});
    process.removeListener("exit", onExit);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const name of NAMES) {
      const node = { name, cluster: `127.0.0.1:${await freePort()}`, http: `127.0.0.1:${await freePort()}`, log: "" };
      node.base = "http://" + node.http;
      // Each node is seeded with the cluster ports of the nodes started before it.
      node.seeds = cluster.nodes.map((n) => n.cluster);
      cluster.nodes.push(node);
      spawnNode(cluster, node, node.seeds);
      await waitReady(node);
    }
    await waitAllUp(cluster);
  } catch (e) {
    console.error(cluster.logs());
    await cluster.stop();
    throw e;
  }
  return cluster;
}

// SIGTERM: the node hands its sessions to their new owners and exits 0.
async function stopGracefully(node) {
  node.proc.kill("SIGTERM");
  await until(`${node.name} to exit after SIGTERM`, STEP_MS, async () => node.exited);
  assert.deepEqual(node.exited, { code: 0, signal: null }, `${node.name} exits with code 0 after SIGTERM`);
}

// The same name and ports again, seeded with the other members (a rolling deploy).
async function startAgain(cluster, node) {
  spawnNode(cluster, node, cluster.nodes.filter((n) => n !== node).map((n) => n.cluster));
  await waitReady(node);
  await waitAllUp(cluster);
}

async function getGame(cluster, id) {
  const node = cluster.live();
  const res = await fetch(`${node.base}/api/v1/games/${id}`);
  assert.equal(res.status, 200, `GET /api/v1/games/${id} on ${node.name}`);
  return res.json();
}

// The page calls other nodes than its own when its node goes away: those calls are
// cross-origin and carry an Authorization header, so the browser sends a preflight first.
async function checkCors(from, to) {
  const what = `${to.name} (${to.base}) for a page from ${from.base}`;
  const pre = await fetch(`${to.base}/api/v1/lobbies`, {
    method: "OPTIONS",
    headers: { Origin: from.base, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization,content-type" },
  });
  const h = (res, name) => res.headers.get(name) || "";
  assert.ok(pre.status >= 200 && pre.status < 300,
            `CORS: OPTIONS /api/v1/lobbies on ${what} answered ${pre.status}; a preflight needs a 2xx`);
  const origin = h(pre, "access-control-allow-origin");
  assert.ok(origin === "*" || origin === from.base,
            `CORS: the preflight on ${what} lacks Access-Control-Allow-Origin (got "${origin}")`);
  assert.match(h(pre, "access-control-allow-methods"), /POST/i,
               `CORS: the preflight on ${what} lacks Access-Control-Allow-Methods: POST`);
  for (const header of ["authorization", "content-type"]) {
    assert.ok(h(pre, "access-control-allow-headers").toLowerCase().includes(header),
              `CORS: the preflight on ${what} lacks ${header} in Access-Control-Allow-Headers ` +
              `(got "${h(pre, "access-control-allow-headers")}")`);
  }
  const get = await fetch(`${to.base}/api/v1/cluster`, { headers: { Origin: from.base } });
  const getOrigin = h(get, "access-control-allow-origin");
  assert.ok(getOrigin === "*" || getOrigin === from.base,
            `CORS: GET /api/v1/cluster on ${what} lacks Access-Control-Allow-Origin (got "${getOrigin}")`);
}

// ---- hex arithmetic (docs/SPEC.md section 1) -----------------------------------------------

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

// ---- the pages -------------------------------------------------------------------------------

const text = (page, sel) => page.locator(sel).innerText();

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, name + ".png"), fullPage: true });
}

// What the pages report. While a node is down, the browser logs the connections it could not
// make (and a leaving node may answer 503); those are expected then and only then. A CORS
// refusal is never expected.
function newWatch() {
  const w = { errors: [], tolerated: [], cors: [], crossOrigin: [], failover: false, staleToken: false };
  w.console = (name, m) => {
    if (m.type() !== "error") return;
    const line = `${name} console: ${m.text()} ${m.location().url ? "(" + m.location().url + ")" : ""}`;
    if (/CORS|Access-Control/i.test(m.text())) w.cors.push(line);
    if (w.failover && !/CORS/i.test(m.text()) &&
        /ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|ERR_CONNECTION_CLOSED|WebSocket connection to .* failed|503/.test(m.text())) {
      w.tolerated.push(line);
    } else if (w.staleToken && /401/.test(m.text())) {
      w.tolerated.push(line);
    } else w.errors.push(line);
  };
  w.response = (name, r) => {
    if (r.status() < 400) return;
    const line = `${name}: ${r.request().method()} ${r.url()} -> ${r.status()}`;
    if ((w.failover && r.status() === 503) || (w.staleToken && r.status() === 401)) {
      w.tolerated.push(line);
    } else w.errors.push(line);
  };
  return w;
}

async function openPlayers(browser, watch) {
  const pages = {};
  for (const name of ["Alice", "Bob"]) {
    // A context of its own for each player: separate localStorage, as two people's browsers.
    const ctx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    ctx.setDefaultTimeout(STEP_MS);
    const page = await ctx.newPage();
    page.on("pageerror", (e) => watch.errors.push(`${name}: ${e.message}`));
    page.on("console", (m) => watch.console(name, m));
    page.on("response", (r) => watch.response(name, r));
    // API calls the page made to another node than the one it was loaded from, and got answered.
    page.on("requestfinished", async (req) => {
      const url = new URL(req.url()), from = new URL(page.url()).origin;
      if (url.origin !== from && url.pathname.startsWith("/api/")) {
        const res = await req.response().catch(() => null);
        watch.crossOrigin.push({ name, from, method: req.method(), url: req.url(), status: res && res.status() });
      }
    });
    pages[name] = page;
  }
  return pages;
}

async function signIn(page, base, name) {
  await page.goto(base + "/");
  await page.locator("#signin").waitFor({ state: "visible" });
  await page.fill("#display-name", name);
  await page.click("#signin-form button[type=submit]");
  await page.locator("#lobby-choice").waitFor({ state: "visible" });
  assert.match(await text(page, "#who"), new RegExp(`playing as ${name}`));
}

// A page whose stored token the cluster refuses (here of the first format, whose key was derived
// from the cluster secret) forgets it at the first call and asks for a name again.
async function staleTokenSignsOut(page, base, watch) {
  await page.goto(base + "/");
  await page.evaluate(() => {
    localStorage.setItem("minotaur.token", "v1.eyJ1IjoidV8xIn0.c3RhbGU");
    localStorage.setItem("minotaur.user", "u_1");
    localStorage.setItem("minotaur.name", "Yesterday");
  });
  await page.reload();
  await page.locator("#lobby-choice").waitFor({ state: "visible" });
  watch.staleToken = true;
  await page.click("#create-lobby");
  await page.locator("#signin").waitFor({ state: "visible" });
  watch.staleToken = false;
  assert.match(await text(page, "#error"), /no longer valid/);
  assert.equal(await page.evaluate(() => localStorage.getItem("minotaur.token")), null);
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

// Waits until the cluster panel says the game is hosted by `node` at `epoch`.
async function expectHost(page, node, epoch) {
  await page.waitForFunction(
    ([node, epoch]) => document.getElementById("host-node").textContent === node &&
                       document.getElementById("epoch").textContent === String(epoch),
    [node, epoch], { timeout: STEP_MS }).catch(async () => {
    throw new Error(`the page should show the game hosted by ${node} at epoch ${epoch}; it shows ` +
                    `${await text(page, "#host-node")} at epoch ${await text(page, "#epoch")}`);
  });
}

// Waits until the page's WebSocket is open ("live") on a node other than `not`; returns it.
async function expectLiveElsewhere(page, not) {
  await page.waitForFunction(
    (not) => document.getElementById("ws-state").textContent === "(live)" &&
             !["", "?", not].includes(document.getElementById("my-node").textContent),
    not, { timeout: STEP_MS }).catch(async () => {
    throw new Error(`the page should be connected, live, to a node other than ${not}; it shows ` +
                    `"${await text(page, "#my-node")} ${await text(page, "#ws-state")}"`);
  });
  return text(page, "#my-node");
}

// Moves a signed-in page to another node's origin, taking its localStorage along (a player
// who opens the game from another node's address).
async function moveTo(page, base) {
  const kept = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
  await page.goto(base + "/");
  await page.evaluate((kv) => { for (const [k, v] of Object.entries(kv)) localStorage.setItem(k, v); }, kept);
  await page.reload();
  await page.locator("#game").waitFor({ state: "visible" });
  await page.waitForFunction(() => document.querySelectorAll("#board circle.token").length === 2);
}

// Lobby: Alice creates it, Bob joins with the code Alice's page shows, Alice starts the game.
// Returns the game id.
async function meetAndStart(A, B, base, shots) {
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

// Rounds: walk toward each other, then attack. Bob attacks only once, so that Alice (who
// attacks every round) ends with more health and wins instead of both falling together.
// In round RESTART_ROUND, `restart(between)` runs: it stops the host before the round's first
// click, calls `between()` for that click while the host is down, and starts the host again
// before the remaining clicks of the round.
async function playToTheEnd({ A, B, cluster, gameId, shots, restart }) {
  let bobAttacked = false;
  let movedShot = !shots;
  let attackShot = !shots;
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
    const play = async ([page, name, type, hex]) => {
      await clickHex(page, hex);
      await expectRegistered(page, name, type);
      // The other player's page learns of it over the WebSocket.
      const other = page === A ? B : A;
      await other.locator("#players li", { hasText: name }).filter({ hasText: "registered" }).waitFor();
    };
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

    // Alice ends the round with the button; both pages move on.
    await A.click("#end-round");
    for (const page of [A, B]) await expectRoundOrEnd(page, round + 1);

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
function restartHost({ A, B, cluster, gameId, watch, prefix, originLost }) {
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

// Waits until the page says it is connected to `name`.
async function expectMyNode(page, name) {
  await page.waitForFunction((n) => document.getElementById("my-node").textContent === n, name,
                             { timeout: STEP_MS }).catch(async () => {
    throw new Error(`the page should be connected to ${name}; it shows ${await text(page, "#my-node")}`);
  });
}

async function withCluster(fn) {
  const { chromium } = await import("playwright-core");
  mkdirSync(ARTIFACTS, { recursive: true });
  const cluster = await startCluster();
  let browser = null;
  const watch = newWatch();
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const { Alice: A, Bob: B } = await openPlayers(browser, watch);
    await fn({ A, B, cluster, watch });
    for (const page of [A, B]) assert.equal(await text(page, "#error"), "", "no error shown on the page");
    assert.deepEqual(watch.cors, [], "CORS: the browser refused cross-origin calls to the other nodes");
    assert.deepEqual(watch.errors, [], "no JavaScript errors and no failed calls in the pages");
    if (watch.tolerated.length) {
      console.log(`expected while a node was down (${watch.tolerated.length}):\n  ${watch.tolerated.join("\n  ")}`);
    }
  } catch (e) {
    console.error(cluster.logs());
    if (watch.errors.length || watch.tolerated.length) {
      console.error(`page errors: ${JSON.stringify(watch.errors, null, 1)}\n` +
                    `during failover: ${JSON.stringify(watch.tolerated, null, 1)}`);
    }
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await cluster.stop();
  }
}

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
