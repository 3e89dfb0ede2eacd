// Minotaur's browser game: plain JavaScript, no build step. It talks to any node; when that node
// goes away (a rolling deploy), HTTP calls and the WebSocket move on to another node and the
// subscription resumes from the version the page has.
"use strict";

const $ = (id) => document.getElementById(id);
const store = window.localStorage;
const S = {
  token: store.getItem("minotaur.token"),
  userId: store.getItem("minotaur.user"),
  name: store.getItem("minotaur.name"),
  lobby: store.getItem("minotaur.lobby"),
  gameId: store.getItem("minotaur.game"),
  game: null,
  nodes: [window.location.origin],  // HTTP bases of the cluster's nodes; ours first
  base: window.location.origin,
  ws: null,
  myNode: null,
  clusterSig: undefined,  // the members' names, statuses and session counts, last seen
};

function save() {
  for (const [k, v] of [["token", S.token], ["user", S.userId], ["name", S.name],
                        ["lobby", S.lobby], ["game", S.gameId]]) {
    if (v) store.setItem("minotaur." + k, v); else store.removeItem("minotaur." + k);
  }
}

function showError(msg) { $("error").textContent = msg || ""; }

function nextBase() {
  const i = S.nodes.indexOf(S.base);
  S.base = S.nodes[(i + 1) % S.nodes.length];
}

// One API call; on a network failure it tries the other nodes in turn, for up to ~20 s.
async function api(method, path, body) {
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      const res = await fetch(S.base + path, {
        method,
        headers: Object.assign({"Content-Type": "application/json"},
                               S.token ? {"Authorization": "Bearer " + S.token} : {}),
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const data = await res.json().catch(() => ({}));
      if (res.status === 503 && Date.now() < deadline) { nextBase(); await sleep(200); continue; }
      if (res.status === 401 && S.token) throw signOut();
      if (!res.ok) {
        const e = new Error((data.error && data.error.message) || ("HTTP " + res.status));
        e.status = res.status; e.code = data.error && data.error.code;
        throw e;
      }
      return data;
    } catch (e) {
      if (e.status || Date.now() > deadline) throw e;
      nextBase();
      await sleep(250);
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The cluster refused our stored token (expired, its key retired, or of an old format): forget
// the user and everything of theirs, and ask for a name again. Returns the error to throw.
function signOut() {
  const ws = S.ws;
  S.ws = null;  // its onclose must not reconnect
  if (ws) ws.close();
  Object.assign(S, {token: null, userId: null, name: null, lobby: null, gameId: null, game: null});
  save();
  const e = new Error("Your sign-in is no longer valid; enter your name to play again.");
  e.status = 401; e.code = "unauthorized";
  setTimeout(() => { route(); showError(e.message); });  // after the caller showed its error
  return e;
}

// An error is about the screen it was shown on: moving to another screen clears it.
function show(section) {
  if (S.section !== section) showError("");
  S.section = section;
  for (const id of ["signin", "lobby-choice", "lobby", "game"]) $(id).hidden = id !== section;
}

// A call the player made and the cluster has not answered yet: the page says so (a hand-off or
// a crash can hold it for a second or more), and the control that made it waits.
async function pending(control, what, call) {
  if (control) control.disabled = true;
  const note = $("pending");
  note.textContent = what;
  note.hidden = false;
  try { return await call(); }
  finally {
    note.hidden = true;
    if (control) control.disabled = false;
  }
}

// ---- sign in, lobby -------------------------------------------------------------------------

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const name = $("display-name").value.trim();
    const u = await api("POST", "/api/v1/users", {display_name: name});
    Object.assign(S, {token: u.token, userId: u.user_id, name});
    save();
    showError("");
    route();
  } catch (e) { showError(e.message); }
});

$("create-lobby").addEventListener("click", async () => {
  try {
    const l = await api("POST", "/api/v1/lobbies");
    S.lobby = l.join_code; save(); route();
  } catch (e) { showError(e.message); }
});

$("join-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const code = $("join-code").value.trim().toUpperCase();
  try {
    // The node reads look-alike digits as letters ("QX1RPT" is "QXIRPT"): keep its spelling.
    const l = await api("POST", `/api/v1/lobbies/${encodeURIComponent(code)}/join`);
    S.lobby = l.join_code; save(); route();
  } catch (e) {
    if (e.code === "already_member") { S.lobby = code; save(); route(); return; }
    showError(e.message);
  }
});

$("start-game").addEventListener("click", async () => {
  try {
    const r = await api("POST", `/api/v1/lobbies/${S.lobby}/start`);
    S.gameId = r.game_id; save(); route();
  } catch (e) { showError(e.message); }
});

let lobbyTimer = null;
async function pollLobby() {
  clearTimeout(lobbyTimer);
  if (!S.lobby || S.gameId) return;
  try {
    const l = await api("GET", `/api/v1/lobbies/${S.lobby}`);
    $("lobby-code").textContent = l.join_code;
    $("lobby-members").innerHTML = "";
    for (const m of l.members) {
      const li = document.createElement("li");
      li.textContent = m.display_name + (m.user_id === l.host_user_id ? " (host)" : "") +
                       (m.user_id === S.userId ? " — you" : "");
      $("lobby-members").appendChild(li);
    }
    const host = l.host_user_id === S.userId;
    $("start-game").hidden = !host;
    $("start-game").disabled = l.members.length < 2;
    $("lobby-wait").hidden = host;
    if (l.status === "started" && l.game_id) { S.gameId = l.game_id; save(); route(); return; }
  } catch (e) {
    if (e.status === 404) { S.lobby = null; save(); route(); return; }
    showError(e.message);
  }
  lobbyTimer = setTimeout(pollLobby, 1000);
}

// ---- the game -------------------------------------------------------------------------------

function hexDistance(a, b) {
  const dq = a.q - b.q, dr = a.r - b.r;
  return (Math.abs(dq) + Math.abs(dr) + Math.abs(dq + dr)) / 2;
}
const onBoard = (h, R) => Math.max(Math.abs(h.q), Math.abs(h.r), Math.abs(h.q + h.r)) <= R;
const SIZE = 26;
const px = (h) => ({x: SIZE * Math.sqrt(3) * (h.q + h.r / 2), y: SIZE * 1.5 * h.r});

function me() { return S.game && S.game.players.find((p) => p.user_id === S.userId); }

function svg(tag, attrs, parent) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function renderBoard() {
  const g = S.game, board = $("board");
  board.innerHTML = "";
  const defs = svg("defs", {}, board);
  for (const [id, cls] of [["arrow", "arrow"], ["arrow-attack", "arrow attack"]]) {
    const marker = svg("marker", {id, viewBox: "0 0 10 10", refX: 8, refY: 5,
                                  markerWidth: 4, markerHeight: 4, orient: "auto"}, defs);
    svg("path", {d: "M0,0 L10,5 L0,10 z", class: cls}, marker);
  }
  const R = g.board_radius || 4;
  // The view fits the board, whatever its radius (the admin API creates boards of 2 to 32).
  const w = SIZE * Math.sqrt(3) * (R + 0.5) + 6, hh = SIZE * (1.5 * R + 1) + 6;
  board.setAttribute("viewBox", `${-w} ${-hh} ${2 * w} ${2 * hh}`);
  const mine = me();
  const canAct = g.status === "active" && mine && mine.health > 0 && mine.action_points > 0;
  for (let q = -R; q <= R; q++) {
    for (let r = -R; r <= R; r++) {
      const h = {q, r};
      if (!onBoard(h, R)) continue;
      const c = px(h);
      const pts = [];
      for (let i = 0; i < 6; i++) {
        const a = Math.PI / 180 * (60 * i - 30);
        pts.push(`${c.x + (SIZE - 1) * Math.cos(a)},${c.y + (SIZE - 1) * Math.sin(a)}`);
      }
      const foes = g.players.filter((p) => p.health > 0 && mine && p.id !== mine.id &&
                                           p.coord.q === q && p.coord.r === r);
      let cls = "hex";
      if (canAct && foes.length && hexDistance(mine.coord, h) <= 1) cls += " target";
      else if (canAct && hexDistance(mine.coord, h) === 1) cls += " reach";
      const reachable = cls !== "hex";
      const poly = svg("polygon", {points: pts.join(" "), class: cls, "data-q": q, "data-r": r,
                                   tabindex: reachable ? 0 : -1, role: "button",
                                   "aria-label": `hex ${q}, ${r}` + (foes.length ? `: attack ${foes[0].display_name}` : "")},
                       board);
      poly.addEventListener("click", () => clickHex(h, foes));
      // The keyboard plays too: Tab reaches the hexes one can act on, Enter or Space acts.
      poly.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); clickHex(h, foes); }
      });
      // Tokens let clicks through to their hex (style.css), so the hex carries their tooltip.
      const here = g.players.filter((p) => p.coord.q === q && p.coord.r === r);
      if (here.length) {
        svg("title", {}, poly).textContent =
            here.map((p) => `${p.display_name} (${p.health > 0 ? p.health + " hp" : "eliminated"})`).join(", ");
      }
    }
  }
  renderPlan(board, g, mine);
  // Players: tokens, several on one hex fan out.
  const byHex = {};
  for (const p of g.players) (byHex[`${p.coord.q},${p.coord.r}`] ||= []).push(p);
  for (const group of Object.values(byHex)) {
    group.forEach((p, i) => {
      const c = px(p.coord);
      const off = group.length > 1 ? 9 : 0, a = (2 * Math.PI * i) / group.length;
      const x = c.x + off * Math.cos(a), y = c.y + off * Math.sin(a);
      const cls = "token " + (p.health <= 0 ? "dead" : (mine && p.id === mine.id ? "me" : "foe"));
      svg("circle", {cx: x, cy: y, r: group.length > 1 ? 10 : 14, class: cls, "data-player": p.id}, board);
      const label = svg("text", {x, y, class: "token-label"}, board);
      label.textContent = p.display_name.slice(0, 1).toUpperCase();
    });
  }
}

// My registered action, drawn under the tokens: an arrow from my token toward the hex I move to
// or the player I attack (a ring around me when the target shares my hex).
function renderPlan(board, g, mine) {
  const plan = mine && g.registered_actions.find((a) => a.player_id === mine.id);
  if (!plan) return;
  const attack = plan.type === "attack";
  const cls = "plan" + (attack ? " attack" : "");
  const from = px(mine.coord);
  let to;
  if (!attack) to = px({q: mine.coord.q + plan.vector.q, r: mine.coord.r + plan.vector.r});
  else { const t = g.players.find((p) => p.id === plan.target_player_id); to = t && px(t.coord); }
  if (!to) return;
  const dx = to.x - from.x, dy = to.y - from.y, len = Math.hypot(dx, dy);
  if (len < 1) { svg("circle", {cx: from.x, cy: from.y, r: SIZE - 6, class: cls + " ring"}, board); return; }
  const ux = dx / len, uy = dy / len, head = attack ? 17 : 8;
  svg("line", {x1: from.x + ux * 15, y1: from.y + uy * 15, x2: to.x - ux * head, y2: to.y - uy * head,
               class: cls, "marker-end": `url(#${attack ? "arrow-attack" : "arrow"})`}, board);
}

async function clickHex(h, foes) {
  const mine = me();
  if (!mine || S.game.status !== "active") return;
  let action;
  if (foes.length && hexDistance(mine.coord, h) <= 1) {
    action = {type: "attack", target_player_id: foes[0].id};
  } else if (hexDistance(mine.coord, h) === 1) {
    action = {type: "move", vector: {q: h.q - mine.coord.q, r: h.r - mine.coord.r}};
  } else {
    showError(hexDistance(mine.coord, h) === 0
                  ? "That is where you stand: choose a neighbouring hex to move, or a neighbouring player to attack."
                  : "That hex is out of reach: you move one hex a round, and attack players next to you.");
    return;
  }
  try {
    const g = await pending(null, action.type === "move" ? "Sending your move…" : "Sending your attack…",
                            () => api("POST", `/api/v1/games/${S.gameId}/actions`, action));
    applyGame(g);
    showError("");
  } catch (e) { showError(e.message); }
}

$("leave-game").addEventListener("click", () => {
  const ws = S.ws;
  S.ws = null;  // its onclose must not reconnect
  if (ws) ws.close();
  Object.assign(S, {gameId: null, lobby: null, game: null});
  save();
  showError("");
  route();
});

$("end-round").addEventListener("click", async () => {
  try {
    applyGame(await pending($("end-round"), "Telling the others you are done…",
                            () => api("POST", `/api/v1/games/${S.gameId}/end_round`)));
    showError("");
  } catch (e) { showError(e.message); }
});

function renderSide() {
  const g = S.game;
  $("round").textContent = g.round;
  $("host-node").textContent = g.node || "?";
  $("epoch").textContent = g.epoch ?? "?";
  const mine = me();
  const status = $("status");
  if (g.status === "concluded") {
    const w = g.players.find((p) => p.id === g.winner_player_id);
    status.innerHTML = "";
    const d = document.createElement("div");
    d.className = "winner";
    d.textContent = w ? `${w.display_name} wins!` : "Everyone fell: no winner.";
    status.appendChild(d);
    $("end-round").hidden = true;
    $("ready-wait").hidden = true;
    $("leave-game").hidden = false;
  } else {
    status.textContent = mine ? (mine.health > 0 ? `You: ${hearts(mine.health)}, ${mine.action_points} action point${mine.action_points === 1 ? "" : "s"} (an action costs 1; one a round)`
                                                 : "You have been eliminated.")
                              : "You are watching.";
    // Ready: the round ends once every living player said so (or its timer runs out).
    const waitingFor = g.players.filter((p) => p.health > 0 && !p.ready).map((p) => p.display_name);
    const iAmReady = !!(mine && mine.ready);
    $("end-round").hidden = !(mine && mine.health > 0) || iAmReady;
    $("ready-wait").hidden = !iAmReady;
    $("ready-wait").textContent = `You are done with this round; waiting for ${waitingFor.join(", ")}.`;
    $("leave-game").hidden = true;
  }
  renderRoundLog(g);
  $("hint").hidden = !(g.status === "active" && mine && mine.health > 0);
  const ul = $("players");
  ul.innerHTML = "";
  for (const p of g.players) {
    const li = document.createElement("li");
    if (p.health <= 0) li.className = "dead";
    const reg = g.registered_actions.some((a) => a.player_id === p.id);
    li.textContent = `${p.display_name}${mine && p.id === mine.id ? " (you)" : ""} — ` +
                     (p.health > 0 ? hearts(p.health) + " " : "eliminated");
    if (reg) { const s = document.createElement("span"); s.className = "registered"; s.textContent = "✓ registered"; li.appendChild(s); }
    if (p.ready) { const s = document.createElement("span"); s.className = "ready"; s.textContent = "✓ done"; li.appendChild(s); }
    ul.appendChild(li);
  }
}

// What the last resolved round did, in the order it happened, in words.
function renderRoundLog(g) {
  const last = g.last_round;
  $("round-log-card").hidden = !last;
  if (!last) return;
  $("round-log-round").textContent = last.round;
  const name = (id) => {
    const p = g.players.find((q) => q.id === id);
    return p ? p.display_name : `player ${id}`;
  };
  const ul = $("round-log");
  ul.innerHTML = "";
  const line = (cls, text) => {
    const li = document.createElement("li");
    li.className = cls;
    li.textContent = text;
    ul.appendChild(li);
  };
  for (const e of last.events) {
    if (e.type === "move") line("move", `${name(e.player_id)} moved to (${e.to.q}, ${e.to.r}).`);
    else if (e.type === "hit") line("hit", `${name(e.player_id)} hit ${name(e.target_player_id)}.`);
    else if (e.type === "miss") line("miss", `${name(e.player_id)}'s attack on ${name(e.target_player_id)} missed: out of reach after the moves.`);
    else if (e.type === "eliminated") line("eliminated", `${name(e.player_id)} was eliminated.`);
  }
  if (!last.events.length) line("quiet", "Nobody acted.");
}

// Health out of its maximum, 3: "♥♥♡ 2/3".
const MAX_HEALTH = 3;
function hearts(health) {
  return "♥".repeat(health) + "♡".repeat(Math.max(0, MAX_HEALTH - health)) + ` ${health}/${MAX_HEALTH}`;
}

function tick() {
  if (S.game && S.game.status === "active") {
    const left = Math.max(0, S.game.round_ends_at_ms - Date.now());
    $("timer").textContent = (left / 1000).toFixed(1) + " s";
  } else $("timer").textContent = "";
}
setInterval(tick, 100);

function applyGame(g) {
  if (!g || g.id !== S.gameId) return;
  if (S.game && (g.version < S.game.version ||  // an older push; we have newer
                 (g.version === S.game.version && (g.epoch ?? 0) < (S.game.epoch ?? 0)))) return;
  if (S.game && S.game.round !== g.round) showError("");  // it was about the round before
  S.game = g;
  renderBoard();
  renderSide();
  tick();
}

// ---- live updates, following the game across nodes ------------------------------------------

function wsUrl(base) { return base.replace(/^http/, "ws") + "/api/v1/ws"; }

function connect() {
  if (!S.gameId) return;
  const base = S.base;
  const ws = new WebSocket(wsUrl(base));
  S.ws = ws;
  $("ws-state").textContent = "(connecting)";
  ws.onopen = () => {
    $("ws-state").textContent = "(live)";
    $("banner").hidden = true;
    ws.send(JSON.stringify({op: "subscribe", game_id: S.gameId}));
    refreshCluster();
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.event === "game") applyGame(m.game);
    else if (m.event === "error") showError(m.error.message);
  };
  ws.onclose = () => {
    if (S.ws !== ws) return;
    $("ws-state").textContent = "(reconnecting)";
    $("banner").textContent = "Reconnecting to the cluster… your game goes on; nothing is lost.";
    $("banner").hidden = false;
    nextBase();  // this node may be going away: try the next one
    setTimeout(connect, 300);
  };
}

// A game that moves to another node (a hand-off) keeps its version, and the WebSocket sends each
// version once, so no push tells the page its new host and epoch. The members' statuses and
// session counts do change then: when they do, the page asks for the game again.
async function refreshGame() {
  if (!S.gameId) return;
  try { applyGame(await api("GET", `/api/v1/games/${S.gameId}`)); }
  catch (e) { /* the next push or refresh will do */ }
}

async function refreshCluster() {
  try {
    const c = await api("GET", "/api/v1/cluster");
    S.myNode = c.node;
    $("my-node").textContent = c.node;
    const sig = c.members.map((m) => `${m.name}:${m.status}:${m.sessions}`).sort().join(",");
    if (S.clusterSig !== undefined && sig !== S.clusterSig) refreshGame();
    S.clusterSig = sig;
    const nodes = [];
    const ul = $("members");
    ul.innerHTML = "";
    for (const m of c.members) {
      const li = document.createElement("li");
      li.className = m.status;
      const label = document.createElement("span");
      label.textContent = `${m.name}: ${m.status}, ${m.sessions} session${m.sessions === 1 ? "" : "s"}`;
      li.appendChild(label);
      // Under `minotaur local` the panel can restart nodes, as a deploy or a crash would.
      const index = /^node(\d+)$/.exec(m.name);
      if (c.local_control && index && m.status === "up") {
        for (const [what, label, title] of [["restart", "restart", "SIGTERM, then start again"],
                                            ["kill", "kill", "SIGKILL, then start again"]]) {
          const b = document.createElement("button");
          b.className = "small";
          b.textContent = label;
          b.title = title;
          b.addEventListener("click", () => localControl(c.local_control, `${what}?node=${index[1]}`));
          li.appendChild(b);
        }
      }
      ul.appendChild(li);
      // The page's own scheme: a page served over HTTPS may call only HTTPS nodes.
      if (m.http && m.status === "up") nodes.push(`${window.location.protocol}//${m.http}`);
    }
    $("roll").hidden = !c.local_control;
    $("roll").onclick = () => localControl(c.local_control, "roll");
    if (nodes.length) S.nodes = [...new Set([S.base, ...nodes])];
  } catch (e) { /* the panel is best-effort */ }
}
setInterval(() => { if (S.gameId) refreshCluster(); }, 2000);

// Under `minotaur local` the buttons' calls need the cluster's admin token. The link local
// prints in its terminal carries it in the address's fragment (#local-token=...), which the
// browser never sends to a server; the page keeps it in this origin's localStorage and takes it
// out of the address bar.
const LOCAL_TOKEN = "minotaur.localToken";
(function takeLocalToken() {
  const m = /(?:^#|&)local-token=([^&]*)/.exec(window.location.hash);
  if (!m) return;
  store.setItem(LOCAL_TOKEN, decodeURIComponent(m[1]));
  history.replaceState(null, "", window.location.pathname + window.location.search);
})();

async function localControl(url, what) {
  $("local-state").textContent = `${what.replace("?node=", " node")}…`;
  const token = store.getItem(LOCAL_TOKEN);
  try {
    const res = await fetch(`${url}/local/${what}`, {
      method: "POST",
      headers: token ? {"Authorization": "Bearer " + token} : {},
    });
    $("local-state").textContent = res.ok ? "done"
      : res.status === 401 ? "refused: open the game through the link minotaur local printed (it carries the admin token)"
      : `failed (HTTP ${res.status})`;
  } catch (e) {
    $("local-state").textContent = "minotaur local did not answer";
  }
  refreshCluster();
}

async function openGame() {
  show("game");
  try { applyGame(await api("GET", `/api/v1/games/${S.gameId}`)); }
  catch (e) {
    if (e.status === 404) { S.gameId = null; S.lobby = null; save(); route(); return; }
    showError(e.message);
  }
  if (!S.ws) connect();
}

function route() {
  $("who").textContent = S.name ? `playing as ${S.name}` : "";
  if (!S.token) return show("signin");
  if (S.gameId) return openGame();
  if (S.lobby) { show("lobby"); return pollLobby(); }
  show("lobby-choice");
}

route();
