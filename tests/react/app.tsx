// A user's app: installed from the packed @realtime-server/react tarball into a fresh folder outside
// this repository, type-checked with tsc, bundled with esbuild, served from its own origin and run in
// Chromium against the server on another origin (tests/browser/test_react.py). Under StrictMode.
import { StrictMode, useEffect, useState, version } from "react";
import { createRoot } from "react-dom/client";

import {
  EVENT_TYPES, NotificationCenter, NotificationToast, RealtimeProvider, useConnectionState, useLiveData,
  useLiveMessages, useLiveStats, useNotifications, useRealtimeClient, useWebSocket,
} from "@realtime-server/react";
import type { LeadUpdatedData, LiveEvent, Notification, ResyncEvent } from "@realtime-server/react";

const params = new URLSearchParams(location.search);
const server = params.get("server") ?? location.origin;
const otherServer = params.get("server2") ?? server;
const tokens = (params.get("tokens") ?? "").split(",");
const exposed = window as unknown as Record<string, unknown>;

type LeadCounts = Record<string, number>;
const leadReducer = (state: LeadCounts, event: LiveEvent | ResyncEvent): LeadCounts => {
  if (event.type === "RESYNC") return { ...state, resynced: 1 };
  if (event.type === "LEAD_UPDATED") {
    const data: LeadUpdatedData = event.data; // narrowed by the generated payload types
    exposed.lastLeadStatus = data.status;
  }
  return { ...state, [event.type]: (state[event.type] ?? 0) + 1 };
};

function Panel() {
  const { isConnected, subscribe, send, client } = useWebSocket();
  const state = useConnectionState();
  const { stats, loading } = useLiveStats();
  const { messages, typingUsers } = useLiveMessages("7");
  const lead = useLiveData<LeadCounts>("lead:9", leadReducer, {});
  const { unreadCount, notifications } = useNotifications();
  const [alerts, setAlerts] = useState<string[]>([]);
  useEffect(() => {
    exposed.realtimeClient = client;
  }, [client]);
  useEffect(() => {
    if (!isConnected) return undefined;
    // the original design's pattern; the payload type follows the event type
    return subscribe<"CAMPAIGN_FAILED">("campaign:3", (event) =>
      setAlerts((a) => [...a, `${event.type}:${event.data.error ?? ""}`]));
  }, [isConnected, subscribe]);
  return (
    <div>
      <p id="react-version">{version}</p>
      <p id="status">{isConnected ? "connected" : "disconnected"}</p>
      <p id="user">{state === "open" ? String(client.connection?.userId) : ""}</p>
      <p id="stats">{loading || !stats ? "loading" : `open leads ${String(stats.openLeads)}`}</p>
      <ul id="messages">
        {messages.map((m) => <li key={m.id} data-status={m.status ?? ""}>{m.content}</li>)}
      </ul>
      <p id="typing">{typingUsers.join(",")}</p>
      <p id="lead">{JSON.stringify(lead.data)}</p>
      <p id="campaign">{alerts.join(",")}</p>
      <p id="unread">{String(unreadCount)}</p>
      <p id="listed">{String(notifications.length)}</p>
      <p id="event-types">{String(EVENT_TYPES.length)}</p>
      <button id="type" onClick={() => send("TYPING_START", { contactId: "7" })}>type</button>
    </div>
  );
}

/** Outside any Provider: the hooks given {url, token} share one connection of their own. */
function Standalone() {
  const options = { url: server, token: tokens[0] };
  const { isConnected, client } = useWebSocket(options);
  const { stats } = useLiveStats(options);
  const same = useRealtimeClient(options) === client;
  return <p id="standalone">{`${isConnected ? "connected" : "waiting"} ${String(stats?.openLeads ?? "-")} ${same ? "shared" : "separate"}`}</p>;
}

function App() {
  const [token, setToken] = useState(tokens[0]);
  const [url, setUrl] = useState(server);
  const clicked = (item: Notification) => {
    exposed.itemClicked = item.id;
  };
  return (
    <>
      <RealtimeProvider url={url} token={token}>
        <header style={{ display: "flex", justifyContent: "flex-start", padding: 4 }}>
          <NotificationCenter className="app-center" classNames={{ badge: "app-badge", item: "app-item" }}
            onItemClick={clicked} />
        </header>
        <Panel />
        <button id="switch-user" onClick={() => setToken(tokens[1])}>switch user</button>
        <button id="switch-server" onClick={() => setUrl(otherServer)}>switch server</button>
        <NotificationToast onClick={(notification, event) => {
          event.preventDefault(); // stay on the page: the test reads what was clicked
          exposed.toastClicked = notification.id;
        }} renderToast={(notification) => <b className="app-toast">{notification.title.toUpperCase()}</b>} />
      </RealtimeProvider>
      <Standalone />
    </>
  );
}

const style = document.createElement("style");
style.textContent = ".app-badge { background: rgb(0, 128, 0); }"; // one class of the app's beats the defaults
document.head.append(style);
createRoot(document.getElementById("root")!).render(<StrictMode><App /></StrictMode>);
