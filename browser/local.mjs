// `minotaur local` as a new user runs it (scripts/run.sh execs it in the terminal): the real
// command with its three nodes, in a folder (--dir) and on ports of the test's own. It runs in a
// process group of its own, as a terminal's foreground job does, so that stopping it the way
// Ctrl-C does sends SIGINT to the whole group: `minotaur local` and its nodes alike. Started
// again in the same folder, it must bring the games back.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY } from "./cluster.mjs";

export const LOCAL_NODES = ["node1", "node2", "node3"];
// How long `minotaur local` may take to print "Minotaur is running" (it starts three nodes and
// waits until each answers /readyz), and to exit after Ctrl-C (every node drains at once; a
// drain's steps are bounded, docs/SPEC.md section 2, and a whole cluster stopping at once has no
// one to hand its games to, so each only writes them to its data dir).
export const LOCAL_START_MS = 30_000;
export const LOCAL_STOP_MS = 35_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// `promise`'s value, or null after `ms`; the timer does not outlive the wait (a pending timer
// would keep the test's process running).
async function within(promise, ms) {
  let timer;
  const timeout = new Promise((r) => { timer = setTimeout(() => r(null), ms); });
  try { return await Promise.race([promise, timeout]); } finally { clearTimeout(timer); }
}

function portFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

// `minotaur local --http-port P --cluster-port C` with three nodes takes P - 1 (its control
// port, for the page's restart buttons) to P + 2, and C to C + 2: seven ports in a row from a
// random base, all free. Below the kernel's ephemeral range (32768 and up), where the other
// tests' ports, which the kernel picks, never are.
async function freeLocalPorts() {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let free = true;
    for (let p = base; p < base + 7 && free; p++) free = await portFree(p);
    if (free) return { httpPort: base + 1, clusterPort: base + 4 };
  }
  throw new Error("found no 7 free ports in a row between 20000 and 32000 on 127.0.0.1");
}

// A new folder and ports for `minotaur local`; nothing runs yet. start() and interrupt() run it
// and stop it as a user would, any number of times, in the same folder and on the same ports.
export async function newLocal({ roundTimeMs }) {
  assert.ok(existsSync(BINARY), `no minotaur executable at ${BINARY}; build it or set MINOTAUR_BINARY`);
  const local = {
    dir: mkdtempSync(join(tmpdir(), "minotaur-local-")),
    ...(await freeLocalPorts()),
    roundTimeMs,
    runs: [],
  };
  local.base = `http://127.0.0.1:${local.httpPort}`;
  // The API checks ask node1, the node the pages are loaded from (getGame calls live()).
  local.live = () => ({ name: "node1", base: local.base });
  local.running = () => local.runs.find((r) => !r.exited);
  // Last resort (a test timeout, an uncaught error): never leave `minotaur local` or a node
  // running. Each run's process group, unless that run exited 0 (then local saw every node
  // exit, and the group is gone: its id may belong to another process by now).
  const killAll = () => {
    for (const r of local.runs) {
      if (r.exited && r.exited.code === 0) continue;
      try { process.kill(-r.proc.pid, "SIGKILL"); } catch { /* the group is gone */ }
    }
  };
  process.on("exit", killAll);

  // Starts `minotaur local` in the folder and waits for its "Minotaur is running" line.
  local.start = async () => {
    assert.equal(local.running(), undefined, "one `minotaur local` at a time");
    const args = ["local", "--dir", local.dir, "--http-port", String(local.httpPort),
                  "--cluster-port", String(local.clusterPort), "--round-time-ms", String(roundTimeMs)];
    // stdin a pipe, as a terminal's: `minotaur local` reads its commands there.
    const proc = spawn(BINARY, args, { stdio: ["pipe", "pipe", "pipe"], detached: true });
    const run = { n: local.runs.length + 1, proc, out: "", exited: null, args };
    local.runs.push(run);
    proc.stdout.on("data", (d) => { run.out += d; });
    proc.stderr.on("data", (d) => { run.out += d; });
    run.exit = new Promise((resolve) => proc.on("exit", (code, signal) => {
      run.exited = { code, signal };
      resolve(run.exited);
    }));
    const started = Date.now();
    await waitFor(run, `minotaur local (start #${run.n}) to print "Minotaur is running"`, LOCAL_START_MS,
                  () => run.out.includes("Minotaur is running"));
    run.startMs = Date.now() - started;
    return run;
  };

  // Ctrl-C: SIGINT to the process group. `minotaur local` sends SIGTERM to every node at once;
  // it must exit 0 and say that every node stopped by SIGTERM with exit code 0.
  local.interrupt = async () => {
    const run = local.running();
    assert.ok(run, "`minotaur local` is running");
    process.kill(-run.proc.pid, "SIGINT");
    const signalled = Date.now();
    const exited = await within(run.exit, LOCAL_STOP_MS);
    run.stopMs = Date.now() - signalled;
    assert.ok(exited, `minotaur local (start #${run.n}) exits within ${LOCAL_STOP_MS} ms of Ctrl-C`);
    assert.deepEqual(exited, { code: 0, signal: null }, `minotaur local (start #${run.n}) exits 0 after Ctrl-C`);
    for (const name of LOCAL_NODES) {
      assert.match(run.out, new RegExp(`local: ${name} stopped by SIGTERM in \\d+ ms \\(exit code 0\\)`),
                   `minotaur local (start #${run.n}) says ${name} stopped by SIGTERM with exit code 0`);
    }
    return run;
  };

  // What `minotaur local` printed in each run, and each node's log in the folder (one file a
  // node, both runs in it).
  local.logs = () => [
    ...local.runs.map((r) => `---- output of minotaur local, start #${r.n} (${BINARY} ${r.args.join(" ")}), ` +
                             `${r.exited ? "exited " + JSON.stringify(r.exited) : "running"} ----\n${r.out}`),
    ...LOCAL_NODES.map((name) => {
      const file = join(local.dir, name + ".log");
      return `---- ${file} ----\n${existsSync(file) ? readFileSync(file, "utf8") : "(none)\n"}`;
    }),
  ].join("\n");

  // Kills whatever still runs (the whole group) and removes the folder.
  local.stop = async () => {
    killAll();
    await within(Promise.all(local.runs.map((r) => r.exit)), 5000);
    process.removeListener("exit", killAll);
    rmSync(local.dir, { recursive: true, force: true });
  };
  return local;
}

// Polls `probe` until it is true; fails at once when `minotaur local` exits meanwhile.
async function waitFor(run, what, ms, probe) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (run.exited) throw new Error(`minotaur local exited (${JSON.stringify(run.exited)}) while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
