// The cluster under test: three `minotaur node` processes (web1..web3) on 127.0.0.1 with their
// secrets in a temporary folder, started, stopped with SIGTERM and started again by name and
// ports; and the API calls the test checks them with.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export const BINARY = process.env.MINOTAUR_BINARY || "/work/mine/build/release/app/minotaur";
export const STEP_MS = 15_000;  // the longest any single page change may take (CI runs tests in parallel)
export const NAMES = ["web1", "web2", "web3"];

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
export async function until(what, ms, probe) {
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

export const alive = (node) => node.proc && !node.exited;

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

export async function startCluster() {
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
export async function stopGracefully(node) {
  node.proc.kill("SIGTERM");
  await until(`${node.name} to exit after SIGTERM`, STEP_MS, async () => node.exited);
  assert.deepEqual(node.exited, { code: 0, signal: null }, `${node.name} exits with code 0 after SIGTERM`);
}

// The same name and ports again, seeded with the other members (a rolling deploy).
export async function startAgain(cluster, node) {
  spawnNode(cluster, node, cluster.nodes.filter((n) => n !== node).map((n) => n.cluster));
  await waitReady(node);
  await waitAllUp(cluster);
}

export async function getGame(cluster, id) {
  const node = cluster.live();
  const res = await fetch(`${node.base}/api/v1/games/${id}`);
  assert.equal(res.status, 200, `GET /api/v1/games/${id} on ${node.name}`);
  return res.json();
}

// The page calls other nodes than its own when its node goes away: those calls are
// cross-origin and carry an Authorization header, so the browser sends a preflight first.
export async function checkCors(from, to) {
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
