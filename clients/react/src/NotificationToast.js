// Toasts for HIGH and URGENT notifications (the store's toastMinPriority), none during the user's
// quiet hours (the server marks those pushes silent; URGENT still shows). URGENT stays until closed.
import { createElement as h } from "react";

import { useNotifications } from "./useNotifications.js";

const boxStyle = { position: "fixed", right: 20, bottom: 20, display: "flex", flexDirection: "column", gap: 8, zIndex: 30 };
const toastStyle = (priority) => ({ width: 320, background: "#fff", borderLeft: `5px solid ${priority === "URGENT" ? "#c2255c" : "#e8590c"}`,
  borderRadius: 8, padding: "10px 12px", boxShadow: "0 8px 24px rgba(0,0,0,.18)", display: "flex", justifyContent: "space-between" });

export function NotificationToast({ className = "" }) {
  const { toasts, dismissToast } = useNotifications();
  return h("div", { className: `rt-toasts ${className}`, style: boxStyle }, toasts.map(({ id, notification }) =>
    h("div", { key: id, className: `rt-toast rt-${notification.priority}`, role: "status", "data-id": id, style: toastStyle(notification.priority) },
      h("div", null, h("b", null, notification.title), h("div", null, notification.message)),
      h("button", { className: "rt-dismiss", "aria-label": "Dismiss", onClick: () => dismissToast(id) }, "×"))));
}

export default NotificationToast;
