// The admin page's tracing section (GET/PUT/DELETE /api/debug/tracing and the views of docs/debugging.md):
// trace a user (switch tracing on for them, watch their entries live, see their connections, refusals,
// deliveries and misses), a room (dormant or live, members, recent publishes with what they reached) and
// one event by its trace id (its steps, the connections it was written to, the traced users it was not,
// and why). Figures and times for people; entries wrap instead of being cut.
import { bytes, duration, number, when } from "./format.js";

const STREAM_KEPT = 200;
const at = (seconds) => (typeof seconds === "number" ? when(new Date(seconds * 1000).toISOString()) : "–");
const fullAt = (seconds) => (typeof seconds === "number" ? new Date(seconds * 1000).toLocaleString() : "");

/** "room lead:9 · offset 1 · ref s1": what an entry's summary says, in one line. */
export function summaryText(summary) {
  if (!summary) return "";
  return Object.entries(summary).map(([key, value]) => `${key} ${Array.isArray(value) ? value.join(", ") : value}`)
    .join(" · ");
}

export function setupTracing({ api, el, cell, who, toast, $, onChange = () => {} }) {
  const view = $("trace-view");
  let streamAbort = null;
  let shown = null; // what the view shows: {kind, key}, refreshed with the page

  const table = (id, heads, rows, empty) => el("div", { class: "table-wrap" }, el("table", { id, class: "wrap" },
    el("thead", {}, el("tr", {}, heads.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: heads.length, class: "empty" }, empty)))));
  const traceLink = (traceId) => (traceId ? el("a", { href: `#event=${encodeURIComponent(traceId)}`, class: "mono",
    onclick: (e) => { e.preventDefault(); showEvent(traceId); } }, traceId) : "–");
  const roomLink = (room) => el("a", { href: `#room=${encodeURIComponent(room)}`, class: "mono",
    onclick: (e) => { e.preventDefault(); showRoom(room); } }, room);
  const name = (text) => el("span", { class: "mono", style: "text-transform: none" }, text); // ids keep their case
  const nodes = (answer) => (answer.unanswered && answer.unanswered.length
    ? ` · no answer from ${answer.unanswered.join(", ")}` : "") + (answer.error ? ` · ${answer.error}` : "");

  // --- the rules in force ------------------------------------------------------------------------
  async function loadRules() {
    try {
      const state = await api("/api/debug/tracing");
      const rules = state.rules;
      const parts = [rules.all ? "everything" : null, rules.users.length ? `users ${rules.users.join(", ")}` : null,
        rules.rooms.length ? `rooms ${rules.rooms.join(", ")}` : null,
        rules.actors.length ? `actors ${rules.actors.join(", ")}` : null].filter(Boolean);
      $("tracing-state").textContent = rules.active
        ? `Tracing ${parts.join("; ")}${rules.expiresInSeconds !== null ? ` for ${duration(rules.expiresInSeconds)} more` : " until stopped"}`
          + (rules.setBy ? ` (set by ${rules.setBy})` : "")
        : "Tracing is off: nothing is recorded but connections, closes and refusals.";
      $("tracing-state").dataset.active = String(rules.active);
      $("tracing-memory").textContent = `Trace memory ${bytes(state.memory.bytes)} of ${bytes(state.memory.maxBytes)}`
        + ` · ${number(state.memory.entries)} entries · node ${state.node}${state.cluster ? " (rules shared by every node)" : ""}`;
      $("tracing-off").disabled = !rules.active;
      return rules;
    } catch (error) {
      $("tracing-state").textContent = `Tracing: ${error.message}`;
      return null;
    }
  }

  async function traceUser(user) {
    const rules = (await loadRules()) || { users: [], rooms: [], actors: [], all: false };
    const users = rules.active ? [...new Set([...rules.users, user])] : [user];
    try {
      await api("/api/debug/tracing", { method: "PUT", body: JSON.stringify({ users, rooms: rules.active ? rules.rooms : [],
        actors: rules.active ? rules.actors : [], all: rules.active ? rules.all : false, minutes: 15 }) });
      toast(`Tracing user ${user} for 15 minutes`);
    } catch (error) {
      toast(`Could not switch tracing on: ${error.message}`, "URGENT");
    }
    onChange();
    await loadRules();
    showUser(user);
  }

  // --- the live stream, filtered (fetch, since EventSource cannot send the token) ----------------------
  function stopStream() {
    if (streamAbort) streamAbort.abort();
    streamAbort = null;
  }

  async function watch(query, list) {
    stopStream();
    const controller = new AbortController();
    streamAbort = controller;
    try {
      const response = await api.raw(`/api/debug/trace?${new URLSearchParams(query)}`, { signal: controller.signal });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith("data: ")) addLive(list, JSON.parse(block.slice(6)));
        }
      }
    } catch (error) {
      if (error.name !== "AbortError") list.prepend(el("li", { class: "meta" }, `Live trace ended: ${error.message}`));
    }
  }

  function entryRow(e) {
    return [cell(el("span", { title: fullAt(e.at) }, at(e.at))), cell(e.event), cell(e.message, "mono"),
      cell(summaryText(e.summary), "mono"), cell(e.detail || e.peer || ""),
      cell(e.micros !== undefined ? `${number(e.micros)} µs` : `mailbox ${number(e.mailbox)}`, "num")];
  }

  function addLive(list, e) {
    list.prepend(el("li", { dataset: { event: e.event, actor: e.actor } }, el("span", { class: "meta", title: fullAt(e.at) }, at(e.at)), " ",
      el("b", {}, e.event), " ", el("span", { class: "mono" }, e.message), " ",
      el("span", { class: "mono" }, summaryText(e.summary)), e.detail ? ` ${e.detail}` : "",
      el("span", { class: "meta" }, ` ${e.actor}${e.trace ? ` · trace ${e.trace}` : ""}`)));
    while (list.children.length > STREAM_KEPT) list.lastChild.remove();
  }

  // --- a user ---------------------------------------------------------------------------------------
  async function showUser(user) {
    let answer;
    try {
      answer = await api(`/api/debug/users/${encodeURIComponent(user)}`);
    } catch (error) {
      toast(`User ${user}: ${error.message}`, "URGENT");
      return;
    }
    const fresh = !shown || shown.kind !== "user" || shown.key !== user;
    shown = { kind: "user", key: user };
    const live = answer.connections.live.map((c) => el("tr", { dataset: { connection: c.connectionId } },
      cell(c.connectionId, "mono"), cell("open"), cell(c.transport), cell(el("span", { title: fullAt(c.opened) }, at(c.opened))),
      cell("–"), cell(c.rooms.map(roomLink).flatMap((a, i) => (i ? [", ", a] : [a]))), cell(c.node, "mono")));
    const closed = answer.connections.closed.map((c) => el("tr", { dataset: { connection: c.connectionId, code: String(c.code) } },
      cell(c.connectionId, "mono"), cell(`closed ${c.code}`), cell(c.transport), cell(el("span", { title: fullAt(c.opened) }, at(c.opened))),
      cell(`${at(c.closed)}: ${c.reason}`), cell(c.rooms.join(", "), "mono"), cell(c.node, "mono")));
    const refusals = answer.refusals.map((r) => el("tr", { dataset: { code: r.code } }, cell(at(r.at)), cell(r.code),
      cell(r.frame || "–", "mono"), cell(r.room || "–", "mono"), cell(r.ref ?? "–", "mono"), cell(r.message)));
    const deliveries = answer.deliveries.map((d) => el("tr", { dataset: { room: d.room, offset: String(d.offset) } },
      cell(at(d.at)), cell(roomLink(d.room)), cell(d.type, "mono"), cell(number(d.offset), "num"),
      cell(d.connectionId, "mono"), cell(traceLink(d.traceId))));
    const missed = answer.missed.map((m) => el("tr", {}, cell(at(m.at)), cell(m.room, "mono"), cell(m.type, "mono"),
      cell(m.outcome), cell(traceLink(m.traceId))));
    const liveList = fresh ? el("ul", { class: "plain live", id: "trace-live" }) : $("trace-live");
    view.replaceChildren(
      el("h2", { id: "trace-view-title" }, "User ", name(who(user))),
      el("p", { class: "meta" }, `${answer.traced ? "Traced" : "Not traced: only connections, closes and refusals are kept"}`
        + ` · nodes ${answer.nodes.join(", ") || "–"}${nodes(answer)}`),
      el("h3", {}, "Connections"),
      table("trace-connections", ["connection", "state", "transport", "opened", "closed", "rooms", "node"], [...live, ...closed], "No connection kept."),
      el("h3", {}, "Refusals"),
      table("trace-refusals", ["when", "code", "frame", "room", "ref", "message"], refusals, "No refusal kept."),
      el("h3", {}, "Deliveries"),
      table("trace-deliveries", ["when", "room", "type", "offset", "connection", "trace"], deliveries,
        answer.traced ? "Nothing delivered since tracing started." : "Trace this user to see their deliveries."),
      el("h3", {}, "Not delivered as sent"),
      table("trace-missed", ["when", "room", "type", "why", "trace"], missed, "Nothing missed."),
      el("h3", {}, "Live"), liveList);
    if (fresh) watch({ user }, liveList);
  }

  // --- a room ---------------------------------------------------------------------------------------
  async function showRoom(room) {
    let answer;
    try {
      answer = await api(`/api/debug/rooms/${encodeURIComponent(room)}`);
    } catch (error) {
      toast(`${room}: ${error.message}`, "URGENT");
      return;
    }
    stopStream();
    shown = { kind: "room", key: room };
    const members = answer.members.map((m) => el("tr", { dataset: { connection: m.connectionId } },
      cell(el("a", { href: "#", onclick: (e) => { e.preventDefault(); showUser(m.userId); } }, who(m.userId, m.role))),
      cell(m.connectionId, "mono"), cell(m.node, "mono")));
    const publishes = answer.publishes.map((p) => el("tr", { dataset: { offset: String(p.offset) } },
      cell(p.offset !== null && p.offset !== undefined ? number(p.offset) : "–", "num"), cell(p.type, "mono"),
      cell(p.timestamp ? when(p.timestamp) : at(p.at)),
      cell(p.members !== undefined ? `${number(p.delivered)} of ${number(p.members)}` : "not traced", "num"),
      cell(p.outcome || ""), cell(traceLink(p.traceId))));
    view.replaceChildren(
      el("h2", { id: "trace-view-title" }, "Room ", name(room)),
      el("p", { class: "meta", id: "trace-room-meta" }, `${answer.state}${answer.epoch ? ` · epoch ${answer.epoch} · offset ${number(answer.offset)}` : ""}`
        + ` · ${number(answer.historySize ?? 0)} events held · ${answer.traced ? "traced" : "not traced"}${nodes(answer)}`),
      el("h3", {}, `Members (${number(answer.members.length)}, users ${answer.users.join(", ") || "none"})`),
      table("trace-members", ["user", "connection", "node"], members, "No member on any node."),
      el("h3", {}, "Recent publishes"),
      table("trace-publishes", ["#", "type", "when", "delivered", "outcome", "trace"], publishes, "No event held."));
  }

  // --- an event -------------------------------------------------------------------------------------
  async function showEvent(traceId) {
    let answer;
    try {
      answer = await api(`/api/debug/events/${encodeURIComponent(traceId)}`);
    } catch (error) {
      toast(`Event ${traceId}: ${error.message}`, "URGENT");
      return;
    }
    stopStream();
    shown = { kind: "event", key: traceId };
    const users = Object.entries(answer.users).flatMap(([user, outcomes]) => outcomes.map((o) => el("tr", { dataset: { user, outcome: o.outcome } },
      cell(who(user)), cell(o.room ? roomLink(o.room) : "–"), cell(o.outcome), cell(o.connectionId || "–", "mono"),
      cell((o.memberOf || []).join(", "), "mono"), cell(o.node, "mono"))));
    const connections = answer.connections.map((c) => el("tr", { dataset: { connection: c.connectionId, outcome: c.outcome } },
      cell(c.connectionId, "mono"), cell(who(c.userId)), cell(c.room, "mono"), cell(c.outcome), cell(number(c.outbox), "num"), cell(c.node, "mono")));
    view.replaceChildren(
      el("h2", { id: "trace-view-title" }, "Event ", name(traceId)),
      el("p", { class: "meta", id: "trace-event-meta" }, `${answer.type || "?"} to ${answer.rooms.map((r) => `${r.room} (offset ${r.offset ?? "–"}, `
        + `${number(r.delivered ?? 0)} of ${number(r.members ?? 0)} members on ${r.node})`).join(", ") || answer.room || "?"}`
        + `${answer.outcome ? ` · ${answer.outcome}` : ""}${nodes(answer)}`),
      el("h3", {}, "Traced users"),
      table("trace-users", ["user", "room", "outcome", "connection", "member of", "node"], users, "No user was traced."),
      el("h3", {}, `Connections${answer.connectionsNotListed ? ` (${number(answer.connectionsNotListed)} more not listed)` : ""}`),
      table("trace-event-connections", ["connection", "user", "room", "outcome", "outbox", "node"], connections, "Written to no traced connection."),
      el("h3", {}, "Steps"),
      el("ol", { class: "plain", id: "trace-steps" }, answer.steps.map((s) => el("li", {}, el("span", { class: "meta", title: fullAt(s.at) }, at(s.at)),
        " ", el("b", {}, s.event), ` ${s.actor}`, s.detail ? `: ${s.detail}` : "", el("span", { class: "meta" }, ` · ${s.node}`)))),
      el("h3", {}, "Entries"),
      table("trace-entries", ["when", "event", "message", "summary", "detail", "time"], answer.entries.map((e) => el("tr", {}, ...entryRow(e))), "No entry."));
  }

  // --- the controls ---------------------------------------------------------------------------------
  const form = (input, button, run) => {
    const go = () => { const value = $(input).value.trim(); if (value) run(value); };
    $(button).onclick = go;
    $(input).onkeydown = (event) => { if (event.key === "Enter") go(); };
  };
  form("trace-user", "trace-user-go", traceUser);
  form("trace-room", "trace-room-go", showRoom);
  form("trace-event", "trace-event-go", showEvent);
  $("tracing-off").onclick = async () => {
    try {
      await api("/api/debug/tracing", { method: "DELETE" });
      toast("Tracing is off");
    } catch (error) {
      toast(`Could not stop tracing: ${error.message}`, "URGENT");
    }
    onChange();
    stopStream();
    loadRules();
  };

  async function refresh() {
    await loadRules();
    if (shown && shown.kind === "user") showUser(shown.key);
    else if (shown && shown.kind === "room") showRoom(shown.key);
  }
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("event")) showEvent(hash.get("event"));
  loadRules();
  return { refresh, showUser, showRoom, showEvent, traceUser, entryRow };
}
