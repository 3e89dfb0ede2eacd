// The pages: Chromium with one browser context per player, what the pages report (errors,
// failed and cross-origin calls), and what a player does and sees on a page. withPages runs a
// test with two players' pages against a system of nodes, and checks the pages' reports at the
// end; withCluster does it with a fresh cluster of `minotaur node` processes.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { STEP_MS, startCluster } from "./cluster.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = join(HERE, "artifacts");
export const CHROMIUM = "/usr/bin/chromium";
// Playwright gives every launch a fresh --user-data-dir of its own (a new temporary folder,
// removed on close) and refuses the flag in `args`, so it is not passed here.
const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

export const text = (page, sel) => page.locator(sel).innerText();

export async function shot(page, name) {
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

export async function signIn(page, base, name) {
  await page.goto(base + "/");
  await page.locator("#signin").waitFor({ state: "visible" });
  await page.fill("#display-name", name);
  await page.click("#signin-form button[type=submit]");
  await page.locator("#lobby-choice").waitFor({ state: "visible" });
  assert.match(await text(page, "#who"), new RegExp(`playing as ${name}`));
}

// A page whose stored token the cluster refuses (here of the first format, whose key was derived
// from the cluster secret) forgets it at the first call and asks for a name again.
export async function staleTokenSignsOut(page, base, watch) {
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
export async function clickHex(page, h) {
  await page.locator(`#board polygon.hex[data-q="${h.q}"][data-r="${h.r}"]`).click();
}

// The same with the keyboard: focus the hex (Tab reaches it) and press Enter.
export async function pressHex(page, h) {
  await page.locator(`#board polygon.hex[data-q="${h.q}"][data-r="${h.r}"]`).focus();
  await page.keyboard.press("Enter");
}

// Waits until the page's players list shows `name` as registered and the board draws the plan.
export async function expectRegistered(page, name, type) {
  await page.locator("#players li", { hasText: name }).filter({ hasText: "registered" })
    .waitFor({ timeout: STEP_MS });
  // An attack on a player on one's own hex is drawn as a ring, any other plan as an arrow.
  await page.locator(type === "attack" ? "#board .plan.attack" : "#board line.plan:not(.attack)")
    .waitFor({ state: "attached", timeout: STEP_MS });
}

// Waits until the page shows round `n` or a winner.
export async function expectRoundOrEnd(page, n) {
  await page.waitForFunction(
    (n) => document.getElementById("round").textContent === String(n) || !!document.querySelector(".winner"),
    n, { timeout: STEP_MS });
}

// Waits until the cluster panel says the game is hosted by `node` at `epoch`.
export async function expectHost(page, node, epoch) {
  await page.waitForFunction(
    ([node, epoch]) => document.getElementById("host-node").textContent === node &&
                       document.getElementById("epoch").textContent === String(epoch),
    [node, epoch], { timeout: STEP_MS }).catch(async () => {
    throw new Error(`the page should show the game hosted by ${node} at epoch ${epoch}; it shows ` +
                    `${await text(page, "#host-node")} at epoch ${await text(page, "#epoch")}`);
  });
}

// Waits until the page's WebSocket is open ("live") on a node other than `not`; returns it.
export async function expectLiveElsewhere(page, not) {
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
export async function moveTo(page, base) {
  const kept = await page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
  await page.goto(base + "/");
  await page.evaluate((kv) => { for (const [k, v] of Object.entries(kv)) localStorage.setItem(k, v); }, kept);
  await page.reload();
  await page.locator("#game").waitFor({ state: "visible" });
  await page.waitForFunction(() => document.querySelectorAll("#board circle.token").length === 2);
}

// Waits until the page says it is connected to `name`.
export async function expectMyNode(page, name) {
  await page.waitForFunction((n) => document.getElementById("my-node").textContent === n, name,
                             { timeout: STEP_MS }).catch(async () => {
    throw new Error(`the page should be connected to ${name}; it shows ${await text(page, "#my-node")}`);
  });
}

// Runs `fn` with Chromium and two players' pages against `system` (a cluster of nodes, or a
// `minotaur local`: anything with logs() and stop()), checks the pages' reports at the end,
// prints the system's logs on failure, and always closes the browser and stops the system.
export async function withPages(system, fn) {
  const { chromium } = await import("playwright-core");
  mkdirSync(ARTIFACTS, { recursive: true });
  let browser = null;
  const watch = newWatch();
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    const { Alice: A, Bob: B } = await openPlayers(browser, watch);
    await fn({ A, B, watch });
    for (const page of [A, B]) assert.equal(await text(page, "#error"), "", "no error shown on the page");
    assert.deepEqual(watch.cors, [], "CORS: the browser refused cross-origin calls to the other nodes");
    assert.deepEqual(watch.errors, [], "no JavaScript errors and no failed calls in the pages");
    if (watch.tolerated.length) {
      console.log(`expected while a node was down (${watch.tolerated.length}):\n  ${watch.tolerated.join("\n  ")}`);
    }
  } catch (e) {
    console.error(system.logs());
    if (watch.errors.length || watch.tolerated.length) {
      console.error(`page errors: ${JSON.stringify(watch.errors, null, 1)}\n` +
                    `during failover: ${JSON.stringify(watch.tolerated, null, 1)}`);
    }
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await system.stop();
  }
}

// A fresh cluster of `minotaur node` processes (cluster.mjs) and two players' pages.
export async function withCluster(fn) {
  const cluster = await startCluster();
  return withPages(cluster, (pages) => fn({ ...pages, cluster }));
}
