"use client";
// Toasts for HIGH and URGENT notifications (the store's toastMinPriority), none during the user's
// quiet hours (the server marks those pushes silent; URGENT still shows). URGENT stays until closed.
// Clicking a toast marks it read, calls onClick, follows its link (unless onClick called
// preventDefault) and dismisses it.
import { createElement as h } from "react";

import { clientOptions } from "./context.js";
import { addDefaultStyles } from "./styles.js";
import { useNotifications } from "./useNotifications.js";

const join = (...names) => names.filter(Boolean).join(" ");

export function NotificationToast(props) {
  const { className = "", classNames = {}, onClick, renderToast, unstyled = false } = props;
  const n = useNotifications({ ...clientOptions(props), client: props.client });
  if (!unstyled) addDefaultStyles();
  const clicked = (id, notification, event) => {
    if (!notification.read) n.markRead(notification.id).catch(() => {});
    if (onClick) onClick(notification, event);
    n.dismissToast(id);
    if (!event.defaultPrevented && notification.link && typeof location !== "undefined") location.assign(notification.link);
  };
  return h("div", { className: join("rt-toasts", className) }, n.toasts.map(({ id, notification }) =>
    h("div", { key: id, className: join("rt-toast", `rt-${notification.priority}`, classNames.toast), role: "status",
      "data-id": id, onClick: (event) => clicked(id, notification, event) },
    renderToast ? renderToast(notification, { dismiss: () => n.dismissToast(id) })
      : h("div", null, h("b", { className: "rt-title" }, notification.title),
        notification.message ? h("div", { className: "rt-message" }, notification.message) : null),
    h("button", { type: "button", className: join("rt-dismiss", classNames.dismiss), "aria-label": "Dismiss",
      onClick: (event) => { event.stopPropagation(); n.dismissToast(id); } }, "×"))));
}

export default NotificationToast;
