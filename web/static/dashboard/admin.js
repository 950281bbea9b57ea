// The admin page: this node and the cluster's, live graphs of the last 15 minutes, a searchable and
// paginated browser of connections, users and rooms (GET /api/admin/..., no --debug needed), a room's
// members and recent events, actions (publish a test event, disconnect a connection; logged with who
// did them), delivery per event type, tracing switched at runtime (admin.tracing.js: a user, a room, an event
// by trace id), and while tracing is on every actor with its mailbox and trace.
import { decodeToken } from "../realtime.js";
import { lineChart, PALETTE } from "./chart.js";
import { ago, bytes, duration, full, label, number, rate, when } from "./format.js";
import { fillIcons } from "./icons.js";
import { askForToken, loadConfig, signOut, storedToken, userNames } from "./session.js";
import { setupTracing, summaryText } from "./admin.tracing.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const SERIES_MS = 5000;
const PAGE = 25;
const ACTOR_PAGE = 50;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const cell = (content, cls) => el("td", { class: cls }, content instanceof Node ? content : content ?? "");

async function main() {
  const config = await loadConfig();
  $("dev-banner").hidden = !config.dev;
  let token = storedToken();
  while (!token || (decodeToken(token) || {}).role !== "ADMIN") {
    token = await askForToken(config, token ? "The admin page needs an ADMIN token." : "");
  }
  const names = await userNames(config);
  const who = (id, role) => (names[id] ? `${names[id]}` : `user ${id}`) + (role ? ` · ${role}` : "");
  const claims = decodeToken(token);
  fillIcons();
  $("app").hidden = false;
  $("user-name").textContent = who(claims.sub, claims.role);
  $("sign-out").onclick = () => signOut();
  const api = async (path, init = {}) => {
    const response = await fetch(path, { ...init, headers: { Authorization: `Bearer ${token}`,
      ...(init.body ? { "Content-Type": "application/json" } : {}) } });
    const body = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      throw Object.assign(new Error((body && body.error && body.error.message) || `HTTP ${response.status}`),
        { status: response.status });
    }
    return body;
  };
  api.raw = async (path, init = {}) => {  // a streamed answer (the live trace): the response itself
    const response = await fetch(path, { ...init, headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status });
    return response;
  };
  const toast = (text, kind = "") => {
    const box = el("div", { class: `toast ${kind}`, role: "status" }, el("div", {}, text));
    $("toasts").append(box);
    setTimeout(() => box.remove(), 4000);
  };

  // --- status, figures, delivery, server table -----------------------------------------------------
  let previous = null;
  async function poll() {
    try {
      const status = await api("/api/ws");
      render(status, previous);
      previous = { status, at: performance.now() };
      $("server-status").dataset.state = "open";
      $("server-status").textContent = "Server up";
      $("debug").hidden = !status.debug;
      $("debug-off").hidden = status.debug;
      if (status.debug) await debug();
    } catch (error) {
      $("server-status").dataset.state = "closed";
      $("server-status").textContent = `Unreachable (${error.message})`;
      if (error.status === 401) {
        localStorage.removeItem("realtime.token");
        location.reload();
      }
    }
    setTimeout(poll, POLL_MS);
  }

  function render(status, before) {
    const seconds = before ? (performance.now() - before.at) / 1000 : 0;
    const perSecond = (key) => (before && seconds > 0 ? (status[key] - before.status[key]) / seconds : null);
    const latency = status.deliveryLatencyMs || {};
    const ms = (v) => (typeof v === "number" ? `${number(v, 1)} ms` : "–");
    const figures = [["connections", "Connections", number(status.connections)],
      ["rooms", "Rooms", number(status.rooms)], ["events", "Events published", rate(perSecond("eventsPublished"))],
      ["frames-out", "Frames out", rate(perSecond("framesOut"))], ["bytes-out", "Sent", bytes(status.bytesOut)],
      ["latency", "Delivery p50 / p99", `${number(latency.p50, 1)} / ${ms(latency.p99)}`],
      ["uptime", "Up for", duration(status.uptimeSeconds)]];
    $("figures").replaceChildren(...figures.map(([key, name, value]) => el("div",
      { class: "card stat", dataset: { figure: key } }, el("div", { class: "value" }, value), el("div", { class: "label" }, name))));
    const shown = { connectionsTotal: number, framesIn: number, framesOut: number, bytesOut: bytes,
      eventsPublished: number, slowConsumersClosed: number, writeTimeouts: number, rateLimited: number,
      roomActors: number, roomsCreated: number, actors: number, debug: (v) => (v ? "on" : "off"),
      uptimeSeconds: duration };
    $("server").tBodies[0].replaceChildren(...Object.entries(shown).filter(([key]) => key in status)
      .map(([key, format]) => el("tr", { dataset: { key } }, cell(label(key === "uptimeSeconds" ? "upFor" : key)),
        cell(format(status[key]), "num"))));
    $("delivery").tBodies[0].replaceChildren(...Object.entries(status.delivery || {}).map(([type, c]) =>
      el("tr", { dataset: { type } }, cell(type, "mono"), cell(number(c.published), "num"), cell(number(c.delivered), "num"),
        cell(number(c.coalesced), "num"), cell(number(c.dropped), "num"))));
  }

  // --- nodes -----------------------------------------------------------------------------------------
  async function nodes() {
    try {
      const { self, cluster } = await api("/api/admin/node");
      const rows = cluster && cluster.nodes ? cluster.nodes.map((n) => ({ ...n, version: n.version || (n.host === self.host && n.pid === self.pid ? self.version : "–") }))
        : [self];
      $("nodes").tBodies[0].replaceChildren(...rows.map((n) => el("tr", { dataset: { host: n.host } },
        cell(n.host), cell(n.version || "–"), cell(n.uptimeSeconds !== undefined ? duration(n.uptimeSeconds)
          : n.started ? duration((Date.now() - Date.parse(n.started)) / 1000) : "–"),
        cell(number(n.connections), "num"), cell(`pid ${n.pid}`), cell(n.broker || (cluster ? "redis" : "–")))));
      $("nodes-note").textContent = cluster ? (cluster.error ? `Cluster: ${cluster.error}` : `${rows.length} nodes share rooms through the broker.`)
        : "One process (the in-memory broker): set BROKER_URL to a Redis URL to run several.";
    } catch (error) {
      $("nodes-note").textContent = `Nodes: ${error.message}`;
    }
  }

  // --- graphs over the last 15 minutes ---------------------------------------------------------------
  async function graphs() {
    try {
      const { samples, minutes } = await api("/api/admin/series");
      const to = Date.now();
      const from = to - minutes * 60000;
      const at = (s) => s.at * 1000;
      const now = previous ? [[to, previous.status.connections]] : []; // the latest figure, between samples
      lineChart($("chart-connections"), [{ name: "connections", points: [...samples.map((s) => [at(s), s.connections]), ...now] }],
        { from, to, format: (v) => number(v, v < 10 ? 1 : 0) });
      const types = [...new Set(samples.flatMap((s) => Object.keys(s.delivered)))].sort();
      const series = types.map((type, index) => ({ name: type, color: PALETTE[index % PALETTE.length],
        points: samples.slice(1).map((s, i) => {
          const before = samples[i];
          const seconds = Math.max(0.001, s.at - before.at);
          return [at(s), ((s.delivered[type] || 0) - (before.delivered[type] || 0)) / seconds];
        }) }));
      lineChart($("chart-deliveries"), series, { from, to, format: (v) => number(v, v < 10 ? 1 : 0) });
      $("legend-deliveries").replaceChildren(...series.map((s) => el("li", {}, el("span", { class: "swatch",
        style: `background: ${s.color}` }), s.name)));
    } catch (error) {
      $("chart-connections").textContent = `Graphs: ${error.message}`;
    }
    setTimeout(graphs, SERIES_MS);
  }

  // --- the browser of connections, users and rooms ------------------------------------------------
  const browse = { what: "connections", query: "", offset: 0, total: 0 };
  const HEADS = { connections: ["user", "connection", "transport", "rooms", "last heard", ""],
    users: ["user", "role", "connections"], rooms: ["room", "members here", "state", "offset"] };

  let browseSeq = 0;
  async function loadBrowse() {
    const params = new URLSearchParams({ q: browse.query, offset: String(browse.offset), limit: String(PAGE) });
    const seq = (browseSeq += 1);
    let page;
    try {
      page = await api(`/api/admin/${browse.what}?${params}`);
    } catch (error) {
      $("browse-range").textContent = error.message;
      return;
    }
    if (seq !== browseSeq) return; // a later request (another tab, page or search) answers instead
    browse.total = page.total;
    const table = $("browse-table");
    table.dataset.what = browse.what;
    table.dataset.query = browse.query;
    table.tHead.replaceChildren(el("tr", {}, HEADS[browse.what].map((h) => el("th", {}, h))));
    const rows = page.items.map((item) => {
      if (browse.what === "connections") {
        return el("tr", { dataset: { id: item.id, user: item.userId } }, cell(who(item.userId, item.role)), cell(item.id, "mono"),
          cell(item.transport === "sse" ? "SSE" : "WebSocket"), cell(number(item.rooms), "num"),
          cell(ago(item.silentSeconds)),
          cell(el("button", { class: "danger disconnect", onclick: (event) => disconnect(item, event.currentTarget) }, "Disconnect")));
      }
      if (browse.what === "users") {
        return el("tr", { class: "clickable", dataset: { user: item.userId }, onclick: () => tracing.showUser(item.userId) },
          cell(who(item.userId)), cell(item.role), cell(number(item.connections), "num"));
      }
      return el("tr", { class: "clickable", dataset: { room: item.room }, onclick: () => openRoom(item.room) },
        cell(el("a", { href: `#room=${encodeURIComponent(item.room)}`, onclick: (e) => { e.preventDefault(); openRoom(item.room); } }, item.room), "mono"),
        cell(number(item.members), "num"), cell(item.live ? "live" : "quiet"), cell(item.offset ? number(item.offset) : "–", "num"));
    });
    table.tBodies[0].replaceChildren(...rows);
    if (!rows.length) table.tBodies[0].append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, browse.query ? `No ${browse.what} match “${browse.query}”.` : `No ${browse.what}.`)));
    const last = Math.min(browse.total, browse.offset + PAGE);
    $("browse-range").textContent = browse.total ? `${number(browse.offset + 1)}–${number(last)} of ${number(browse.total)}` : "";
    $("browse-prev").disabled = browse.offset === 0;
    $("browse-next").disabled = last >= browse.total;
  }

  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.onclick = () => {
      for (const other of document.querySelectorAll("[role=tab]")) other.setAttribute("aria-selected", String(other === tab));
      Object.assign(browse, { what: tab.dataset.what, offset: 0 });
      loadBrowse();
    };
  }
  let searchTimer;
  $("browse-search").oninput = () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      Object.assign(browse, { query: $("browse-search").value.trim(), offset: 0 });
      loadBrowse();
    }, 200);
  };
  $("browse-prev").onclick = () => { browse.offset = Math.max(0, browse.offset - PAGE); loadBrowse(); };
  $("browse-next").onclick = () => { browse.offset += PAGE; loadBrowse(); };

  /** Two clicks: the first asks (in the button itself, no blocking dialog), the second disconnects. */
  async function disconnect(item, button) {
    if (!button.dataset.confirming) {
      button.dataset.confirming = "true";
      button.textContent = "Really disconnect?";
      button.title = `Close ${who(item.userId)}'s connection ${item.id}; the client may reconnect`;
      setTimeout(() => { delete button.dataset.confirming; button.textContent = "Disconnect"; }, 4000);
      return;
    }
    try {
      await api(`/api/admin/connections/${encodeURIComponent(item.id)}/disconnect`, { method: "POST" });
      toast(`Disconnected ${item.id}`);
    } catch (error) {
      toast(`Could not disconnect: ${error.message}`, "URGENT");
    }
    setTimeout(loadBrowse, 300);
    loadActions();
  }

  // --- a room: members and recent history ------------------------------------------------------------
  let openedRoom = null;
  async function openRoom(room) {
    openedRoom = room;
    let view;
    try {
      view = await api(`/api/admin/rooms/${encodeURIComponent(room)}`);
    } catch (error) {
      toast(`${room}: ${error.message}`, "URGENT");
      return;
    }
    $("room-view").hidden = false;
    $("room-view").dataset.room = room;
    $("room-title").textContent = room;
    $("room-meta").textContent = view.epoch ? `epoch ${view.epoch} · offset ${number(view.offset)} · ${view.live ? "live" : "quiet"}`
      : "No events held here yet.";
    $("room-members").replaceChildren(...view.members.map((m) => el("li", { dataset: { connection: m.connectionId } },
      who(m.userId, m.role), " ", el("span", { class: "mono meta" }, m.connectionId))));
    if (!view.members.length) $("room-members").append(el("li", { class: "empty" }, "Nobody in this room on this node."));
    $("room-history").tBodies[0].replaceChildren(...view.events.slice().reverse().map((e) => el("tr", { dataset: { offset: String(e.offset) } },
      cell(number(e.offset), "num"), cell(e.type, "mono"), cell(el("span", { title: full(e.timestamp) }, when(e.timestamp))),
      cell(JSON.stringify(e.data).slice(0, 140), "mono"))));
    if (!view.events.length) $("room-history").tBodies[0].append(el("tr", {}, el("td", { colspan: 4, class: "empty" }, "No recent events.")));
    $("room-view").scrollIntoView({ block: "nearest" });
  }
  $("room-close").onclick = () => { $("room-view").hidden = true; openedRoom = null; };
  $("room-publish").onclick = async () => {
    if (!openedRoom) return;
    try {
      const answer = await api(`/api/admin/rooms/${encodeURIComponent(openedRoom)}/publish`, { method: "POST", body: "{}" });
      toast(`Published to ${openedRoom}: offset ${answer.offset}, handed to ${answer.delivered} socket(s); trace ${answer.traceId}`);
    } catch (error) {
      toast(`Could not publish: ${error.message}`, "URGENT");
    }
    openRoom(openedRoom);
    loadActions();
  };

  // --- recent actions ------------------------------------------------------------------------------
  async function loadActions() {
    try {
      const { actions } = await api("/api/admin/actions");
      $("actions-empty").hidden = actions.length > 0;
      $("actions").replaceChildren(...actions.slice(0, 20).map((a) => el("li", { dataset: { action: a.action } },
        el("b", {}, who(a.by)), a.action === "disconnect" ? ` disconnected ${a.connectionId}`
          : a.action === "tracing" ? ` set tracing: ${a.rules}` : ` published ${a.type} to ${a.room}`,
        " ", el("span", { class: "meta", title: full(a.at) }, when(a.at)))));
    } catch { /* shown next time */ }
  }

  // --- debug mode: every actor, searchable and paged ---------------------------------------------
  let selected = null;
  let actorOffset = 0;
  $("actor-search").oninput = () => { actorOffset = 0; debug(); };
  $("actors-prev").onclick = () => { actorOffset = Math.max(0, actorOffset - ACTOR_PAGE); debug(); };
  $("actors-next").onclick = () => { actorOffset += ACTOR_PAGE; debug(); };
  async function debug() {
    const { actors } = await api("/api/debug/actors");
    const query = $("actor-search").value.trim().toLowerCase();
    const matching = actors.filter((a) => !query || JSON.stringify(a).toLowerCase().includes(query))
      .sort((a, b) => b.mailbox - a.mailbox || String(a.id).localeCompare(String(b.id)));
    const page = matching.slice(actorOffset, actorOffset + ACTOR_PAGE);
    $("actors").tBodies[0].replaceChildren(...page.map((actor) => {
      const detail = actor.kind === "room" ? `${number(actor.members)} members, offset ${number(actor.offset)}`
        : actor.kind === "connection" ? `${who(actor.userId)}, ${(actor.rooms || []).length} rooms, outbox ${number(actor.outbox)}` : "";
      const tr = el("tr", { class: actor.id === selected ? "selected clickable" : "clickable", dataset: { actor: actor.id } },
        cell(actor.id, "mono"), cell(actor.kind), cell(number(actor.mailbox), "num"), cell(number(actor.handled), "num"),
        cell(number(actor.failures), "num"), cell(detail));
      tr.onclick = () => { selected = actor.id; trace(); };
      return tr;
    }));
    $("actors-range").textContent = matching.length ? `${number(actorOffset + 1)}–${number(Math.min(matching.length, actorOffset + ACTOR_PAGE))} of ${number(matching.length)}` : "No actor matches.";
    $("actors-prev").disabled = actorOffset === 0;
    $("actors-next").disabled = actorOffset + ACTOR_PAGE >= matching.length;
    if (selected) await trace();
  }
  async function trace() {
    try {
      const actor = await api(`/api/debug/actors/${encodeURIComponent(selected)}`);
      $("trace-title").textContent = `Recent trace: ${selected}${actor.alive ? "" : " (stopped)"}`;
      $("trace").tBodies[0].replaceChildren(...actor.trace.slice(-40).reverse().map((e) => el("tr", {},
        cell(new Date(e.at * 1000).toLocaleTimeString()), cell(e.event), cell(e.message || ""),
        cell([summaryText(e.summary), e.peer || e.detail || "", e.trace ? `trace ${e.trace}` : ""].filter(Boolean).join(" · ")),
        cell(e.micros !== undefined && e.micros !== null ? `${number(e.micros)} µs` : `mailbox ${e.mailbox ?? ""}`))));
    } catch {
      $("trace-title").textContent = `Recent trace: ${selected} (gone)`;
    }
  }

  const tracing = setupTracing({ api, el, cell, who, toast, $, onChange: loadActions });
  setInterval(() => { if (!document.hidden) tracing.refresh(); }, 5000);
  window.admin = { openRoom, loadBrowse, browse, tracing }; // for the console and the browser tests
  poll();
  nodes();
  setInterval(nodes, 10000);
  graphs();
  loadBrowse();
  setInterval(() => { if (!document.hidden && !document.querySelector("[data-confirming]")) loadBrowse(); }, 5000);
  loadActions();
}

main();
