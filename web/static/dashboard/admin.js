// The admin page: server status from GET /api/ws (rates from successive samples), delivery per event
// type, and in debug mode the actors with their mailbox depths and one actor's recent trace.
import { decodeToken } from "../realtime.js";
import { askForToken, loadConfig, signOut, storedToken } from "./session.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function row(...cells) {
  const tr = document.createElement("tr");
  tr.append(...cells.map((c) => (c instanceof Node ? c : cell(c))));
  return tr;
}

async function main() {
  const config = await loadConfig();
  $("dev-banner").hidden = !config.dev;
  let token = storedToken();
  while (!token || (decodeToken(token) || {}).role !== "ADMIN") {
    token = await askForToken(config, token ? "The admin page needs an ADMIN token." : "");
  }
  const claims = decodeToken(token);
  $("app").hidden = false;
  $("user-name").textContent = `user ${claims.sub} · ${claims.role}`;
  $("sign-out").onclick = () => signOut();
  const api = async (path) => {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    if (!response.ok) throw Object.assign(new Error(`HTTP ${response.status}`), { status: response.status });
    return response.json();
  };

  let previous = null;
  let selected = null;
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
    const rate = (key) => (before && seconds > 0 ? ((status[key] - before.status[key]) / seconds).toFixed(1) : "…");
    const latency = status.latencyMs || status.deliveryLatencyMs || {};
    const figures = [["connections", status.connections], ["rooms", status.rooms], ["frames out / s", rate("framesOut")],
      ["frames in / s", rate("framesIn")], ["events / s", rate("eventsPublished")],
      ["flush p50 / p99 ms", `${latency.p50 ?? "–"} / ${latency.p99 ?? "–"}`]];
    $("figures").replaceChildren(...figures.map(([label, value]) => {
      const card = document.createElement("div");
      card.className = "card stat";
      card.dataset.figure = label;
      card.innerHTML = `<div class="value"></div><div class="label"></div>`;
      card.querySelector(".value").textContent = value;
      card.querySelector(".label").textContent = label;
      return card;
    }));
    const skip = new Set(["delivery"]);
    $("server").tBodies[0].replaceChildren(...Object.entries(status).filter(([k, v]) => !skip.has(k) && typeof v !== "object")
      .map(([k, v]) => row(k, v)));
    $("delivery").tBodies[0].replaceChildren(...Object.entries(status.delivery || {})
      .map(([type, c]) => row(type, c.published, c.delivered, c.coalesced, c.dropped)));
  }

  async function debug() {
    const { actors } = await api("/api/debug/actors");
    actors.sort((a, b) => b.mailbox - a.mailbox || String(a.id).localeCompare(String(b.id)));
    $("actors").tBodies[0].replaceChildren(...actors.slice(0, 200).map((actor) => {
      const detail = actor.kind === "room" ? `${actor.members} members, offset ${actor.offset}`
        : actor.kind === "connection" ? `user ${actor.userId}, ${(actor.rooms || []).length} rooms, outbox ${actor.outbox}` : "";
      const tr = row(cell(actor.id, "mono"), actor.kind, actor.mailbox, actor.handled, actor.failures, detail);
      tr.dataset.actor = actor.id;
      if (actor.id === selected) tr.className = "selected";
      tr.onclick = () => { selected = actor.id; trace(); };
      return tr;
    }));
    if (selected) await trace();
  }

  async function trace() {
    try {
      const actor = await api(`/api/debug/actors/${encodeURIComponent(selected)}`);
      $("trace-title").textContent = `Recent trace: ${selected}${actor.alive ? "" : " (stopped)"}`;
      $("trace").tBodies[0].replaceChildren(...actor.trace.slice(-40).reverse().map((e) => row(
        new Date(e.at * 1000).toLocaleTimeString(), e.event, e.message || "", e.peer || e.detail || "",
        e.micros !== undefined ? `${e.micros} µs` : `mailbox ${e.mailbox ?? ""}`)));
    } catch {
      $("trace-title").textContent = `Recent trace: ${selected} (gone)`;
    }
  }

  poll();
}

main();
