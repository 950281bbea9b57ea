// The built-in dashboard: live statistics, an activity feed, campaign progress, alerts, the
// notification center with toasts, and the connection status. Plain ES modules over realtime.js.
import { RealtimeClient, decodeToken } from "../realtime.js";
import { notificationStoreFor } from "../notifications.js";
import { askForToken, loadConfig, signOut, storedToken, userNames } from "./session.js";

const $ = (id) => document.getElementById(id);
const FEED_MAX = 100;
const ROOMS_KEY = "realtime.rooms";

/** el("li", {class: "x", dataset: {type}}, "text", child) */
function el(tag, attrs = {}, ...children) {
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

const time = (iso) => (iso ? new Date(iso) : new Date()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const number = (n) => (typeof n === "number" ? n.toLocaleString() : String(n));
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
  const who = (id) => names[id] || `user ${id}`;
  $("app").hidden = false;
  $("user-name").textContent = `${who(claims.sub)} · ${claims.role}`;
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
      const text = number(value);
      if (valueNode.textContent !== text) {
        valueNode.textContent = text;
        valueNode.classList.add("changed");
        requestAnimationFrame(() => requestAnimationFrame(() => valueNode.classList.remove("changed")));
      }
    }
  });

  // --- feed, campaigns, alerts, typing -------------------------------------------------------------
  const feed = $("feed");
  const recent = [];
  const messageTicks = new Map();
  const typing = new Map(); // "contact|user" -> timer
  const campaigns = new Map();

  function addFeed(kind, icon, what, frame, extra = {}) {
    $("feed-empty").hidden = true;
    const item = el("li", { class: "fresh", dataset: { kind, type: frame ? frame.type : kind, room: frame && frame.room } },
      el("span", { class: "icon" }, icon), el("span", { class: "what" }, what),
      el("span", { class: "meta" }, time(frame && frame.timestamp)));
    Object.assign(item.dataset, extra);
    feed.prepend(item);
    while (feed.children.length > FEED_MAX) feed.lastChild.remove();
    return item;
  }

  function describe(frame) {
    const d = frame.data || {};
    const contact = d.contactName || `contact ${d.contactId}`;
    switch (frame.type) {
      case "MESSAGE_RECEIVED":
        return ["💬", [el("b", {}, contact), " wrote ", el("span", { class: "quote" }, `“${d.content || ""}”`)]];
      case "MESSAGE_SENT":
        return ["↩️", [el("b", {}, d.sentBy ? who(d.sentBy) : "Agent"), ` replied to ${contact} `,
          el("span", { class: "quote" }, `“${d.content || ""}”`)]];
      case "CAMPAIGN_STARTED": return ["🚀", [`Campaign `, el("b", {}, d.name || d.campaignId), ` started (${number(d.total || 0)} recipients)`]];
      case "CAMPAIGN_COMPLETED": return ["✅", [`Campaign `, el("b", {}, d.name || d.campaignId), ` completed: ${number(d.sent || 0)} sent, ${number(d.failed || 0)} failed`]];
      case "CAMPAIGN_FAILED": return ["⛔", [`Campaign `, el("b", {}, d.name || d.campaignId), ` failed: ${d.error}`]];
      case "LEAD_CREATED": return ["✨", [`New lead `, el("b", {}, d.name || d.leadId), d.source ? ` from ${d.source}` : ""]];
      case "LEAD_UPDATED": return ["✏️", [`Lead `, el("b", {}, d.name || d.leadId), ` is now ${d.status || JSON.stringify(d.changes || {})}`]];
      case "LEAD_ASSIGNED": return ["👤", [`Lead `, el("b", {}, d.name || d.leadId), ` assigned to ${who(d.assignedTo)}`]];
      case "LEAD_CONVERTED": return ["💰", [`Lead `, el("b", {}, d.name || d.leadId), ` converted`, d.value ? ` (${number(d.value)} €)` : ""]];
      case "CONTACT_UPDATED": return ["🗂️", [el("b", {}, d.name || `Contact ${d.contactId}`), ` updated: `,
        Object.entries(d.changes || {}).map(([k, v]) => `${k} → ${v}`).join(", ")]];
      case "SYSTEM_ALERT": return ["⚠️", [el("b", {}, d.title || d.level), ` ${d.message}`]];
      default: return ["•", [el("b", {}, frame.type), ` ${JSON.stringify(d).slice(0, 120)}`]];
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
        el("div", { class: "row" }, el("b", {}, c.name || `Campaign ${c.id}`),
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
    const lines = [...typing.keys()].map((key) => {
      const [contactId, userId] = key.split("|");
      return `${who(userId)} is typing to contact ${contactId}…`;
    });
    $("typing").textContent = lines.join("  ·  ");
  }

  function alert(frame) {
    const d = frame.data || {};
    $("alerts-empty").hidden = true;
    const list = $("alerts");
    list.prepend(el("li", { class: d.level }, el("b", {}, `${time(frame.timestamp)} `), d.message));
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
          tick.textContent = d.status === "READ" ? "✓✓ read" : d.status === "DELIVERED" ? "✓✓" : d.status.toLowerCase();
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
    // an event sent to two rooms (LEAD_ASSIGNED: the lead and the assignee) is shown once
    const key = `${frame.type}|${JSON.stringify(d)}`;
    if (recent.includes(key)) return;
    recent.push(key);
    if (recent.length > 30) recent.shift();
    if (frame.type.startsWith("CAMPAIGN_")) campaign(frame);
    if (frame.type === "SYSTEM_ALERT") alert(frame);
    const [icon, what] = describe(frame);
    const item = addFeed(frame.type.split("_")[0].toLowerCase(), icon, what, frame);
    if (frame.type === "MESSAGE_SENT") {
      const tick = el("span", { class: "tick" }, "✓");
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
      addFeed("notice", "⟳", `Reconnected; events missed in ${rooms.length} room(s) could not be replayed (${rooms.slice(0, 3).join(", ")}${rooms.length > 3 ? " …" : ""}); reloaded what can be.`,
        null, { rooms: rooms.join(",") });
    }, 100);
  });
  client.on("connected", (info) => {
    if (info.resumed) addFeed("notice", "🔌", `Reconnected over ${info.transport === "sse" ? "SSE" : "WebSocket"}`, null);
  });

  // --- rooms ---------------------------------------------------------------------------------------
  const followed = new Map();
  const saved = JSON.parse(localStorage.getItem(ROOMS_KEY) || "[]");
  function follow(room, save) {
    room = room.trim();
    if (!room || followed.has(room)) return;
    followed.set(room, client.subscribe(room, () => {}, {
      onError: (error) => addFeed("notice", "🚫", `${room}: ${error.message}`, null),
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
    $("rooms").textContent = rooms.join("  ");
  }
  for (const room of [...config.rooms, ...saved]) follow(room, false);
  $("rooms-form").onsubmit = (event) => {
    event.preventDefault();
    for (const room of $("room-input").value.split(",")) follow(room, true);
    $("room-input").value = "";
  };
  client.on("connected", showRooms);

  // --- notification center and toasts --------------------------------------------------------------
  const panel = $("notification-panel");
  $("bell").onclick = () => {
    panel.hidden = !panel.hidden;
  };
  $("mark-all-read").onclick = () => store.markAllRead();
  $("browser-permission").onclick = () => store.requestBrowserPermission();

  function renderNotifications(snapshot) {
    const badge = $("unread-badge");
    badge.hidden = snapshot.unreadCount === 0;
    badge.textContent = snapshot.unreadCount > 99 ? "99+" : String(snapshot.unreadCount);
    $("browser-permission").hidden = snapshot.permission !== "default";
    $("notification-empty").hidden = snapshot.notifications.length > 0;
    $("notification-list").replaceChildren(...snapshot.notifications.map((n) => el("li",
      { class: n.read ? "read" : "unread", dataset: { id: n.id, priority: n.priority } },
      el("div", {}, el("span", { class: "title" }, n.title), el("span", { class: `chip ${n.priority}` }, n.priority)),
      el("div", { class: "actions" },
        n.read ? null : el("button", { class: "mark-read", title: "Mark read", onclick: () => store.markRead(n.id) }, "✓"),
        el("button", { class: "remove", title: "Delete", onclick: () => store.remove(n.id) }, "×")),
      el("div", { class: "message" }, n.message, el("span", { class: "meta" }, ` · ${time(n.createdAt)}`)))));
    $("toasts").replaceChildren(...snapshot.toasts.map(({ id, notification: n }) => el("div",
      { class: `toast ${n.priority}`, role: "status", dataset: { id } },
      el("div", {}, el("div", { class: "title" }, n.title), el("div", { class: "message" }, n.message)),
      el("button", { title: "Dismiss", onclick: () => store.dismissToast(id) }, "×"))));
  }
  store.subscribe(renderNotifications);
  client.connect();
  store.start();
  renderNotifications(store.getSnapshot());
}

main();
