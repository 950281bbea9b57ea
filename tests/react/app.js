// A page using every hook and component of clients/react, bundled once per React version by
// build.mjs and driven by tests/browser/test_react.py against a real server.
import { createElement as h, useEffect, useState, version } from "react";
import { createRoot } from "react-dom/client";

import {
  NotificationCenter, NotificationToast, RealtimeClient, RealtimeProvider, useLiveData, useLiveMessages,
  useLiveStats, useNotifications, useWebSocket,
} from "../../clients/react/src/index.js";

const leadReducer = (state, event) => (event.type === "RESYNC" ? { ...state, resynced: true }
  : { ...state, [event.type]: (state[event.type] || 0) + 1 });

function Panel() {
  const { isConnected, subscribe, send } = useWebSocket();
  const { stats, loading } = useLiveStats();
  const { messages, typingUsers } = useLiveMessages("7");
  const lead = useLiveData("lead:9", leadReducer, {});
  const { unreadCount, notifications } = useNotifications();
  const [alerts, setAlerts] = useState([]);
  useEffect(() => {
    if (!isConnected) return undefined;
    return subscribe("campaign:3", (event) => setAlerts((a) => [...a, event.type])); // the original design's pattern
  }, [isConnected, subscribe]);
  return h("div", null,
    h("header", { style: { display: "flex", justifyContent: "flex-end" } }, h(NotificationCenter)),
    h("p", { id: "react-version" }, version),
    h("p", { id: "status" }, isConnected ? "connected" : "disconnected"),
    h("p", { id: "stats" }, loading ? "loading" : `open leads ${stats.openLeads}`),
    h("ul", { id: "messages" }, messages.map((m) => h("li", { key: m.id, "data-status": m.status || "" }, m.content))),
    h("p", { id: "typing" }, typingUsers.join(",")),
    h("p", { id: "lead" }, JSON.stringify(lead.data)),
    h("p", { id: "campaign" }, alerts.join(",")),
    h("p", { id: "unread" }, String(unreadCount)),
    h("p", { id: "listed" }, String(notifications.length)),
    h("button", { id: "type", onClick: () => send("TYPING_START", { contactId: "7" }) }, "type"),
    h(NotificationToast));
}

const token = new URLSearchParams(location.search).get("token");
const client = new RealtimeClient({ url: location.origin, token });
window.realtimeClient = client;
window.clientLog = [];
client.on("state", (state, info) => window.clientLog.push(["state", state, JSON.stringify(info)]));
client.on("disconnected", (info) => window.clientLog.push(["disconnected", JSON.stringify(info)]));
createRoot(document.getElementById("root")).render(h(RealtimeProvider, { client }, h(Panel)));
