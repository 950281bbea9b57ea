// The built-in dashboard: live statistics, an activity feed (filter by kind, follow a room's events),
// campaign progress, alerts, the notification center (links, load more, preferences and quiet hours)
// with clickable toasts, and the connection state. Plain ES modules over realtime.js; icons are inline SVG.
import { RealtimeClient, decodeToken } from "../realtime.js";
import { notificationStoreFor } from "../notifications.js";
import { full, number, when } from "./format.js";
import { fillIcons, icon } from "./icons.js";
import { openPreferences } from "./preferences.js";
import { askForToken, loadConfig, signOut, storedToken, userNames } from "./session.js";

const $ = (id) => document.getElementById(id);
const FEED_MAX = 200;
const ROOMS_KEY = "realtime.rooms";
const KINDS = { message: "Messages", lead: "Leads", campaign: "Campaigns", contact: "Contacts", system: "Alerts" };

/** el("li", {class: "x", dataset: {type}}, "text", child) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "dataset") {
      for (const [name, item] of Object.entries(value)) if (item !== undefined && item !== null) node.dataset[name] = item;
    }
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

const STAT_LABELS = { totalContacts: "Contacts", openLeads: "Open leads", messagesToday: "Messages today",
  activeCampaigns: "Active campaigns", conversionRate: "Conversion rate %", avgResponseSeconds: "Avg. response (s)" };

async function main() {
  const config = await loadConfig();
  $("dev-banner").hidden = !config.dev;
  const token = storedToken() || (await askForToken(config));
  start(token, config, await userNames(config));
}

function start(token, config, names) {
  const claims = decodeToken(token) || {};
  const me = String(claims.sub);
  /** A person's name; "you" for the signed-in user. */
  const who = (id) => (String(id) === me ? "you" : names[id] || `user ${id}`);
  const capital = (text) => text.charAt(0).toUpperCase() + text.slice(1);
  const contactNames = new Map(); // contact id -> name, learnt from events that carry one
  const contact = (id, name) => name || contactNames.get(String(id)) || `contact ${id}`;
  fillIcons();
  $("app").hidden = false;
  $("user-name").textContent = `${names[me] || `user ${me}`} · ${claims.role}`;
  $("admin-link").hidden = claims.role !== "ADMIN";
  $("sign-out").onclick = () => signOut();

  const client = new RealtimeClient({ url: location.origin, token });
  const store = notificationStoreFor(client);
  window.dashboard = { client, store }; // for the console and the browser tests

  // --- connection status -------------------------------------------------------------------------
  const status = $("connection-status");
  let countdown;
  client.on("state", (state, info) => {
    status.dataset.state = state;
    status.dataset.transport = client.transport || "";
    clearInterval(countdown);
    if (state === "open") status.textContent = client.transport === "sse" ? "Live (SSE fallback)" : "Live";
    else if (state === "connecting") status.textContent = "Connecting…";
    else if (state === "closed") status.textContent = "Offline";
    else if (state === "reconnecting") {
      const until = Date.now() + info.delay;
      const show = () => { status.textContent = `Reconnecting in ${Math.max(0, Math.ceil((until - Date.now()) / 1000))} s`; };
      show();
      countdown = setInterval(show, 500);
    }
  });
  client.on("error", (error) => {
    if (error.code === "TOKEN_EXPIRED" || (error.code === "HTTP_401")) {
      client.close();
      askForToken(config, "Your token expired or was refused; sign in again.").then(() => location.reload());
    }
  });

  // --- statistics ----------------------------------------------------------------------------------
  const statNodes = new Map();
  client.subscribe("stats:dashboard", (event) => {
    if (event.type !== "STATS_UPDATE") return;
    const box = $("stats");
    if (!statNodes.size) box.replaceChildren();
    for (const [key, value] of Object.entries(event.data)) {
      let node = statNodes.get(key);
      if (!node) {
        node = el("div", { class: "card stat", dataset: { stat: key } }, el("div", { class: "value" }),
          el("div", { class: "label" }, STAT_LABELS[key] || key));
        statNodes.set(key, node);
        box.append(node);
      }
      const valueNode = node.querySelector(".value");
      const text = number(value, 2);
      if (valueNode.textContent !== text) {
        valueNode.textContent = text;
        valueNode.classList.add("changed");
        requestAnimationFrame(() => requestAnimationFrame(() => valueNode.classList.remove("changed")));
      }
    }
  });

  // --- feed: kinds, a room filter, dates -----------------------------------------------------------
  const feed = $("feed");
  const recent = [];
  const messageTicks = new Map();
  const typing = new Map(); // "contact|user" -> timer
  const campaigns = new Map();
  const filter = { kind: "all", room: null };

  function applyFilter() {
    let shown = 0;
    for (const item of feed.children) {
      const byKind = filter.kind === "all" || item.dataset.kind === filter.kind || item.dataset.kind === "notice";
      const byRoom = !filter.room || (item.dataset.rooms || "").split(",").includes(filter.room);
      item.hidden = !(byKind && byRoom);
      if (!item.hidden) shown += 1;
    }
    for (const chip of document.querySelectorAll("#feed-filters [data-kind]")) {
      chip.setAttribute("aria-pressed", String(chip.dataset.kind === filter.kind));
    }
    $("room-filter").hidden = !filter.room;
    $("room-filter-name").textContent = filter.room || "";
    $("feed-empty").hidden = feed.children.length === 0 ? false : true;
    $("feed-none").hidden = shown > 0 || feed.children.length === 0;
  }
  $("feed-filters").replaceChildren(...[["all", "All"], ...Object.entries(KINDS)].map(([kind, text]) =>
    el("button", { class: "chip-button", dataset: { kind }, "aria-pressed": String(kind === "all"),
      onclick: () => { filter.kind = kind; applyFilter(); } }, text)));
  $("room-filter-clear").onclick = () => { location.hash = ""; };
  function fromHash() {
    const match = /^#room=(.+)$/.exec(location.hash);
    filter.room = match ? decodeURIComponent(match[1]) : null;
    if (filter.room && !client.rooms().includes(filter.room)) follow(filter.room, false);
    openRoom(filter.room);
    applyFilter();
  }
  window.addEventListener("hashchange", fromHash);

  const roomLink = (room, ...children) => el("a", { href: `#room=${encodeURIComponent(room)}`, class: "room-link" }, ...children);

  function addFeed(kind, iconName, what, frame, extra = {}) {
    const rooms = frame ? [frame.room, ...(frame.alsoRooms || [])].filter(Boolean) : [];
    const item = el("li", { class: "fresh", dataset: { kind, type: frame ? frame.type : kind, room: frame && frame.room,
      rooms: rooms.join(",") } },
    el("span", { class: `feed-icon ${kind}` }, icon(iconName)),
    el("span", { class: "what" }, what),
    el("time", { class: "meta", datetime: frame && frame.timestamp, title: full(frame && frame.timestamp) }, when(frame && frame.timestamp)));
    Object.assign(item.dataset, extra);
    feed.prepend(item);
    while (feed.children.length > FEED_MAX) feed.lastChild.remove();
    applyFilter();
    return item;
  }

  function describe(frame) {
    const d = frame.data || {};
    if (d.contactId !== undefined && (d.contactName || (frame.type === "CONTACT_UPDATED" && d.name))) {
      contactNames.set(String(d.contactId), d.contactName || d.name);
    }
    const link = (text) => roomLink(frame.room, el("b", {}, text));
    const who_ = contact(d.contactId, d.contactName);
    switch (frame.type) {
      case "MESSAGE_RECEIVED":
        return ["message", [link(who_), " wrote ", el("span", { class: "quote" }, `“${d.content || ""}”`)]];
      case "MESSAGE_SENT": {
        const sender = d.sentBy ? who(d.sentBy) : "An agent";
        return ["reply", [sender.charAt(0).toUpperCase() + sender.slice(1), " replied to ", link(who_), " ",
          el("span", { class: "quote" }, `“${d.content || ""}”`)]];
      }
      case "CAMPAIGN_STARTED": return ["rocket", ["Campaign ", link(d.name || d.campaignId), ` started (${number(d.total || 0)} recipients)`]];
      case "CAMPAIGN_COMPLETED": return ["check", ["Campaign ", link(d.name || d.campaignId), ` completed: ${number(d.sent || 0)} sent, ${number(d.failed || 0)} failed`]];
      case "CAMPAIGN_FAILED": return ["stop", ["Campaign ", link(d.name || d.campaignId), ` failed: ${d.error || "unknown error"}`]];
      case "LEAD_CREATED": return ["sparkle", ["New lead ", link(d.name || d.leadId), d.source ? ` from ${d.source}` : ""]];
      case "LEAD_UPDATED": return ["pencil", ["Lead ", link(d.name || d.leadId), ` is now ${d.status || Object.entries(d.changes || {}).map(([k, v]) => `${k} ${v}`).join(", ")}`]];
      case "LEAD_ASSIGNED": return ["user", ["Lead ", link(d.name || d.leadId), ` assigned to ${who(d.assignedTo)}`,
        d.assignedBy ? ` by ${who(d.assignedBy)}` : ""]];
      case "LEAD_CONVERTED": return ["coin", ["Lead ", link(d.name || d.leadId), " converted", d.value ? ` (${number(d.value)} €)` : ""]];
      case "CONTACT_UPDATED": return ["contact", [link(d.name || contact(d.contactId)), " updated: ",
        Object.entries(d.changes || {}).map(([k, v]) => `${k} → ${v}`).join(", ")]];
      case "SYSTEM_ALERT": return ["alert", [el("b", {}, d.title || d.level), ` ${d.message}`]];
      case "CLAIMED": {
        const by = capital(who(d.by));
        return ["user", d.takenFrom ? [by, " took ", roomLink(frame.room, el("b", {}, frame.room)), ` over from ${who(d.takenFrom)}`]
          : [by, " claimed ", roomLink(frame.room, el("b", {}, frame.room))]];
      }
      case "RELEASED": {
        const why = { expired: " (expired)", disconnected: " (holder gone)" }[d.reason] || "";
        return ["check", [roomLink(frame.room, el("b", {}, frame.room)), ` released by ${who(d.by)}${why}`]];
      }
      default: return ["dot", [el("b", {}, frame.type), ` ${JSON.stringify(d).slice(0, 120)}`]];
    }
  }

  function renderCampaigns() {
    const box = $("campaigns");
    if (!campaigns.size) {
      box.replaceChildren(el("p", { class: "empty" }, "No campaign running."));
      return;
    }
    box.replaceChildren(...[...campaigns.values()].slice(-6).reverse().map((c) => {
      const percent = c.total ? Math.min(100, Math.round((100 * c.sent) / c.total)) : (c.percent || 0);
      return el("div", { class: "campaign", dataset: { campaign: c.id, status: c.status, percent: String(percent) } },
        el("div", { class: "row" }, roomLink(`campaign:${c.id}`, el("b", {}, c.name || `Campaign ${c.id}`)),
          el("span", {}, c.status === "running" ? `${percent}% · ${number(c.sent)} / ${number(c.total || 0)}` : c.status)),
        el("div", { class: "bar" }, el("span", { style: `width: ${c.status === "completed" ? 100 : percent}%` })));
    }));
  }

  function campaign(frame) {
    const d = frame.data || {};
    const id = String(d.campaignId);
    const c = campaigns.get(id) || { id, sent: 0, total: 0, status: "running" };
    if (d.name) c.name = d.name;
    if (typeof d.total === "number") c.total = d.total;
    if (typeof d.sent === "number") c.sent = d.sent;
    if (frame.type === "CAMPAIGN_STARTED") Object.assign(c, { sent: 0, status: "running" });
    if (frame.type === "CAMPAIGN_COMPLETED") c.status = "completed";
    if (frame.type === "CAMPAIGN_FAILED") c.status = "failed";
    campaigns.delete(id);
    campaigns.set(id, c);
    renderCampaigns();
  }

  function showTyping() {
    // never "you are typing": the user knows; names and contact names, not ids
    const lines = [...typing.keys()].map((key) => key.split("|")).filter(([, userId]) => userId !== me)
      .map(([contactId, userId]) => {
        const name = who(userId);
        return `${name.charAt(0).toUpperCase() + name.slice(1)} is typing to ${contact(contactId)}…`;
      });
    $("typing").textContent = lines.join("  ·  ");
  }

  function alert(frame) {
    const d = frame.data || {};
    $("alerts-empty").hidden = true;
    const list = $("alerts");
    list.prepend(el("li", { class: d.level }, el("time", { title: full(frame.timestamp) }, `${when(frame.timestamp)} `), d.message));
    while (list.children.length > 5) list.lastChild.remove();
  }

  client.on("event", (frame) => {
    const d = frame.data || {};
    switch (frame.type) {
      case "STATS_UPDATE": case "NOTIFICATION": case "NOTIFICATION_READ": return;
      case "CAMPAIGN_PROGRESS": campaign(frame); return;
      case "MESSAGE_STATUS_UPDATE": {
        const tick = messageTicks.get(String(d.messageId));
        if (tick) {
          tick.replaceChildren(icon("check"), d.status === "READ" ? icon("check") : "", el("span", { class: "label" }, d.status.toLowerCase()));
          tick.className = `tick ${d.status}`;
        }
        return;
      }
      case "TYPING_START": case "TYPING_STOP": {
        const key = `${d.contactId}|${d.userId}`;
        clearTimeout(typing.get(key));
        typing.delete(key);
        if (frame.type === "TYPING_START") typing.set(key, setTimeout(() => { typing.delete(key); showTyping(); }, 8000));
        showTyping();
        return;
      }
      default: break;
    }
    // an event sent to two rooms (LEAD_ASSIGNED: the lead and the assignee) is shown once, linked to both
    const key = `${frame.type}|${JSON.stringify(d)}`;
    const seen = recent.find((r) => r.key === key);
    if (seen) {
      const rooms = new Set((seen.item.dataset.rooms || "").split(",").filter(Boolean));
      rooms.add(frame.room);
      seen.item.dataset.rooms = [...rooms].join(",");
      return;
    }
    if (frame.type.startsWith("CAMPAIGN_")) campaign(frame);
    if (frame.type === "SYSTEM_ALERT") alert(frame);
    const [iconName, what] = describe(frame);
    const item = addFeed(frame.type.split("_")[0].toLowerCase(), iconName, what, frame);
    recent.push({ key, item });
    if (recent.length > 30) recent.shift();
    if (frame.type === "MESSAGE_SENT") {
      const tick = el("span", { class: "tick" }, icon("check"), el("span", { class: "label" }, "sent"));
      item.querySelector(".what").append(tick);
      messageTicks.set(String(d.messageId), tick);
      if (messageTicks.size > 200) messageTicks.delete(messageTicks.keys().next().value);
    }
  });

  // a room that could not be recovered after a reconnect: say so (the notification list reloads itself)
  let lost = [];
  client.on("subscribed", (info) => {
    if (info.recovered !== false) return;
    lost.push(info.room);
    if (lost.length === 1) setTimeout(() => {
      if (!lost.length) return;
      const rooms = lost;
      lost = [];
      addFeed("notice", "refresh", `Reconnected; events missed in ${rooms.length} room(s) could not be replayed (${rooms.slice(0, 3).join(", ")}${rooms.length > 3 ? " …" : ""}); reloaded what can be.`,
        null, { lost: rooms.join(",") });
    }, 100);
  });
  client.on("connected", (info) => {
    if (info.resumed) addFeed("notice", "plug", `Reconnected over ${info.transport === "sse" ? "SSE" : "WebSocket"}`, null);
  });

  // --- rooms ---------------------------------------------------------------------------------------
  const followed = new Map();
  const saved = JSON.parse(localStorage.getItem(ROOMS_KEY) || "[]");
  function follow(room, save) {
    room = room.trim();
    if (!room || followed.has(room)) return;
    followed.set(room, client.subscribe(room, () => {}, {
      onError: (error) => addFeed("notice", "stop", `${room}: ${error.message}`, null),
    }));
    if (save) {
      saved.push(room);
      localStorage.setItem(ROOMS_KEY, JSON.stringify(saved));
    }
    showRooms();
  }
  function showRooms() {
    const rooms = client.rooms();
    $("rooms-summary").textContent = `Following ${rooms.length} rooms`;
    $("rooms").replaceChildren(...rooms.map((room) => roomLink(room, room)));
  }
  for (const room of [...config.rooms, ...saved]) follow(room, false);
  $("rooms-form").onsubmit = (event) => {
    event.preventDefault();
    for (const room of $("room-input").value.split(",")) follow(room, true);
    $("room-input").value = "";
  };
  client.on("connected", showRooms);

  // --- an opened contact or lead: who is viewing it (presence), who is handling it (claims) -----------
  // Opening a room (#room=lead:9) subscribes it with presence: SUBSCRIBED lists the viewers (users, not
  // tabs), PRESENCE frames bring the joins and leaves. The claim is read over REST once per SUBSCRIBED
  // (so a reconnect reads it again) and then follows the room's CLAIMED and RELEASED events.
  const PRESENCE_ROOM = /^(contact|lead|campaign):./;
  const CLAIM_ROOM = /^(contact|lead):./;
  const AVATAR_COLOURS = ["#3b5bdb", "#2b8a3e", "#e8590c", "#7048e8", "#c2255c", "#1971c2", "#0c8599", "#5c940d"];
  const opened = { room: null, off: null, viewers: new Set(), claim: null, sent: null, version: 0 };
  const personName = (id) => names[id] || `user ${id}`;
  function initials(id) {
    const name = names[id];
    if (!name) return String(id).slice(0, 2).toUpperCase();
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((word) => word[0]).join("").toUpperCase();
  }
  function avatarColour(id) { // the same person has the same colour on every screen
    let hash = 0;
    for (const char of String(id)) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    return AVATAR_COLOURS[hash % AVATAR_COLOURS.length];
  }

  function renderRoomPanel() {
    $("room-panel").hidden = !opened.room;
    if (!opened.room) return;
    $("room-panel").dataset.room = opened.room;
    const ids = [...opened.viewers].sort((a, b) => (a === me ? -1 : b === me ? 1 : personName(a).localeCompare(personName(b))));
    $("viewers").replaceChildren(...ids.map((id) => el("span",
      { class: `viewer${id === me ? " me" : ""}`, dataset: { user: id }, title: id === me ? `${personName(id)} (you)` : personName(id) },
      el("span", { class: "avatar", style: `background: ${avatarColour(id)}`, "aria-hidden": "true" }, initials(id)),
      el("span", { class: "name" }, id === me ? "you" : personName(id)))));
    const claimable = CLAIM_ROOM.test(opened.room);
    const line = $("claim-line");
    const button = $("claim-button");
    line.hidden = !claimable;
    button.hidden = !claimable;
    if (!claimable) return;
    const by = opened.claim && opened.claim.by;
    line.dataset.state = !by ? "free" : by === me ? "mine" : "other";
    line.dataset.by = by || "";
    line.title = opened.claim && opened.claim.until ? `until ${full(opened.claim.until)}` : "";
    line.textContent = !by ? "Nobody is handling this" : by === me ? "You are handling this" : `${capital(personName(by))} is handling this`;
    const action = !by ? "claim" : by === me ? "release" : claims.role === "ADMIN" ? "takeover" : "claim";
    button.dataset.action = action;
    button.textContent = { claim: "Claim", release: "Release", takeover: "Take over" }[action];
  }

  function claimChanged(claim) {
    opened.version += 1;
    opened.claim = claim;
    if (claim && claim.by === me) $("claim-error").hidden = true;
    renderRoomPanel();
  }

  async function loadClaim(room) {
    const version = opened.version;
    try {
      const answer = await client.api(`/api/rooms/${encodeURIComponent(room)}/claim`);
      // a CLAIMED or RELEASED that came while the answer was on its way is newer than it
      if (opened.room !== room || opened.version !== version) return;
      opened.claim = answer.claim ? { by: String(answer.claim.by), until: answer.claim.until } : null;
      renderRoomPanel();
    } catch (error) {
      if (opened.room === room) showClaimError(error.message || String(error));
    }
  }

  function showClaimError(text, code = "") {
    $("claim-error").textContent = text;
    $("claim-error").dataset.code = code;
    $("claim-error").hidden = false;
  }

  function openRoom(room) {
    const wanted = room && PRESENCE_ROOM.test(room) ? room : null;
    if (wanted === opened.room) return;
    if (opened.off) opened.off();
    Object.assign(opened, { room: wanted, off: null, viewers: new Set(wanted ? [me] : []), claim: null, sent: null });
    opened.version += 1;
    $("claim-error").hidden = true;
    if (wanted) {
      opened.off = client.subscribe(wanted, (frame) => {
        const d = frame.data || {};
        if (frame.type === "CLAIMED") claimChanged({ by: String(d.by), until: d.until });
        else if (frame.type === "RELEASED") claimChanged(null);
      }, {
        presence: true,
        onSubscribed: (info) => {
          if (opened.room !== wanted) return;
          if (Array.isArray(info.presence)) opened.viewers = new Set([me, ...info.presence.map(String)]);
          renderRoomPanel();
          if (CLAIM_ROOM.test(wanted)) loadClaim(wanted);
        },
        onPresence: (change) => {
          if (opened.room !== wanted) return;
          for (const id of change.leaves) if (String(id) !== me) opened.viewers.delete(String(id));
          for (const id of change.joins) opened.viewers.add(String(id));
          renderRoomPanel();
        },
      });
    }
    renderRoomPanel();
  }

  $("claim-button").onclick = () => {
    if (!opened.room) return;
    const action = $("claim-button").dataset.action;
    $("claim-error").hidden = true;
    opened.sent = action === "release" ? client.release(opened.room)
      : client.claim(opened.room, { force: action === "takeover" });
  };
  // CLAIM and RELEASE have no answer of their own: the room's CLAIMED or RELEASED is the answer, and
  // an ERROR carrying our frame id (CONFLICT names the holder) is the refusal
  client.on("error", (error) => {
    if (!opened.sent || error.ref === undefined || String(error.ref) !== opened.sent) return;
    opened.sent = null;
    if (error.code === "CONFLICT" && error.by !== undefined) {
      claimChanged({ by: String(error.by), until: error.until });
      showClaimError(`Not claimed: ${personName(String(error.by))} is handling this.`, error.code);
    } else {
      showClaimError(error.message || error.code, error.code);
    }
  });

  // --- notification center and toasts --------------------------------------------------------------
  const panel = $("notification-panel");
  $("bell").onclick = (event) => {
    event.stopPropagation();
    panel.hidden = !panel.hidden;
    panel.style.top = `${Math.round($("bell").getBoundingClientRect().bottom + 8)}px`; // under the bell, wherever the header wrapped it
    $("bell").setAttribute("aria-expanded", String(!panel.hidden));
  };
  // a click outside closes the panel; clicks inside stay inside (a re-render may have removed their target)
  panel.addEventListener("click", (event) => event.stopPropagation());
  document.addEventListener("click", (event) => {
    if (!panel.hidden && !$("bell").contains(event.target)) panel.hidden = true;
  });
  document.addEventListener("keydown", (event) => { if (event.key === "Escape") panel.hidden = true; });
  $("mark-all-read").onclick = () => store.markAllRead();
  $("browser-permission").onclick = () => store.requestBrowserPermission();
  $("load-more").onclick = () => store.loadMore();
  $("open-preferences").onclick = () => { panel.hidden = true; openPreferences(store, el); };

  /** Open a notification: mark it read and follow its link (an in-page #room= link filters the feed). */
  function openNotification(n) {
    if (!n.read) store.markRead(n.id).catch(() => {});
    if (n.link) location.assign(n.link);
  }

  function renderNotifications(snapshot) {
    const badge = $("unread-badge");
    badge.hidden = snapshot.unreadCount === 0;
    badge.textContent = snapshot.unreadCount > 99 ? "99+" : String(snapshot.unreadCount);
    $("bell").setAttribute("aria-label", `Notifications (${snapshot.unreadCount} unread)`);
    $("browser-permission").hidden = snapshot.permission !== "default";
    $("notification-empty").hidden = snapshot.notifications.length > 0;
    $("load-more").hidden = !snapshot.nextCursor;
    $("load-more").disabled = snapshot.loadingMore;
    $("load-more").textContent = snapshot.loadingMore ? "Loading…" : "Load more";
    $("notification-list").replaceChildren(...snapshot.notifications.map((n) => el("li",
      { class: n.read ? "read" : "unread", dataset: { id: n.id, priority: n.priority } },
      el("div", {}, n.link ? el("a", { class: "title", href: n.link, onclick: () => { if (!n.read) store.markRead(n.id).catch(() => {}); } }, n.title)
        : el("span", { class: "title" }, n.title), el("span", { class: `chip ${n.priority}` }, n.priority)),
      el("div", { class: "actions" },
        n.read ? null : el("button", { class: "mark-read icon-button", title: "Mark read", "aria-label": "Mark read", onclick: () => store.markRead(n.id) }, icon("check")),
        el("button", { class: "remove icon-button", title: "Delete", "aria-label": "Delete", onclick: () => store.remove(n.id) }, icon("x"))),
      el("div", { class: "message" }, n.message, " · ", el("time", { class: "meta", datetime: n.createdAt, title: full(n.createdAt) }, when(n.createdAt))))));
    $("toasts").replaceChildren(...snapshot.toasts.map(({ id, notification: n }) => el("div",
      { class: `toast ${n.priority}${n.link ? " linked" : ""}`, role: "status", tabindex: "0", dataset: { id },
        onclick: () => { store.dismissToast(id); openNotification(n); },
        onkeydown: (event) => { if (event.key === "Enter") { store.dismissToast(id); openNotification(n); } } },
      el("div", {}, el("div", { class: "title" }, n.title), el("div", { class: "message" }, n.message)),
      el("button", { class: "icon-button dismiss", title: "Dismiss", "aria-label": "Dismiss",
        onclick: (event) => { event.stopPropagation(); store.dismissToast(id); } }, icon("x")))));
  }
  store.subscribe(renderNotifications);
  client.connect();
  store.start();
  renderNotifications(store.getSnapshot());
  fromHash();
}

main();
