// A bell with the unread count; the list opens below it (mark read, mark all read, delete).
// Unstyled apart from layout: class names start with rt- so an app can style them.
import { createElement as h, useState } from "react";

import { useNotifications } from "./useNotifications.js";

const panelStyle = { position: "absolute", right: 0, top: "100%", width: 360, maxHeight: 420, overflow: "auto",
  background: "#fff", color: "#1c2333", border: "1px solid #e3e7ef", borderRadius: 8, zIndex: 20,
  boxShadow: "0 12px 32px rgba(0,0,0,.18)" };
const badgeStyle = { position: "absolute", top: -6, right: -8, minWidth: 18, height: 18, borderRadius: 9,
  background: "#fa5252", color: "#fff", fontSize: 11, lineHeight: "18px", textAlign: "center", padding: "0 5px" };

export function NotificationCenter({ className = "", maxItems = 50, onOpen }) {
  const n = useNotifications();
  const [open, setOpen] = useState(false);
  const toggle = () => {
    setOpen(!open);
    if (!open && onOpen) onOpen();
  };
  return h("div", { className: `rt-notification-center ${className}`, style: { position: "relative", display: "inline-block" } },
    h("button", { className: "rt-bell", "aria-label": `Notifications (${n.unreadCount} unread)`, onClick: toggle,
      style: { position: "relative" } }, "🔔",
      n.unreadCount > 0 ? h("span", { className: "rt-badge", style: badgeStyle }, n.unreadCount > 99 ? "99+" : String(n.unreadCount)) : null),
    open ? h("div", { className: "rt-panel", role: "dialog", style: panelStyle },
      h("div", { style: { display: "flex", justifyContent: "space-between", padding: "8px 12px", borderBottom: "1px solid #e3e7ef" } },
        h("b", null, "Notifications"),
        h("span", null,
          n.permission === "default" ? h("button", { className: "rt-permission", onClick: () => n.requestBrowserPermission() }, "Desktop alerts") : null,
          h("button", { className: "rt-mark-all", onClick: () => n.markAllRead(), disabled: n.unreadCount === 0 }, "Mark all read"))),
      n.notifications.length === 0 ? h("p", { className: "rt-empty", style: { padding: "8px 12px" } }, n.loading ? "Loading…" : "No notifications.") : null,
      h("ul", { style: { listStyle: "none", margin: 0, padding: 0 } }, n.notifications.slice(0, maxItems).map((item) =>
        h("li", { key: item.id, className: `rt-item ${item.read ? "rt-read" : "rt-unread"}`, "data-id": item.id,
          style: { padding: "8px 12px", borderBottom: "1px solid #eee", fontWeight: item.read ? 400 : 600 } },
          h("div", null, item.title, " ", h("small", { className: `rt-priority rt-${item.priority}` }, item.priority)),
          h("div", { style: { fontWeight: 400, color: "#6b7487" } }, item.message),
          h("div", null,
            item.read ? null : h("button", { className: "rt-mark-read", onClick: () => n.markRead(item.id) }, "Mark read"),
            h("button", { className: "rt-remove", onClick: () => n.remove(item.id) }, "Delete")))))) : null);
}

export default NotificationCenter;
