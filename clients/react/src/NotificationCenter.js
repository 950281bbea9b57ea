"use client";
// A bell with the unread count; the list opens below it, kept inside the viewport wherever the bell
// sits. Items show their title (a link when the notification has one), message, time and priority;
// clicking one marks it read and calls onItemClick. Looks come from rt- classes (styles.js) that any
// class of the app overrides; `classNames` adds the app's own to each part; `renderItem` replaces an
// item's content altogether. What the open list shows is acknowledged as seen on this device (delivery
// records).
import { createElement as h, useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";

import { clientOptions } from "./context.js";
import { addDefaultStyles } from "./styles.js";
import { useNotifications } from "./useNotifications.js";

const MARGIN = 8;
const join = (...names) => names.filter(Boolean).join(" ");
const useIsomorphicLayoutEffect = typeof window === "undefined" ? useEffect : useLayoutEffect;

export function BellIcon(props) {
  return h("svg", { viewBox: "0 0 24 24", fill: "none", stroke: "currentColor", strokeWidth: 2, strokeLinecap: "round",
    strokeLinejoin: "round", "aria-hidden": "true", focusable: "false", ...props },
  h("path", { d: "M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" }), h("path", { d: "M10.3 21a1.94 1.94 0 0 0 3.4 0" }));
}

/** Where the panel goes: under the bell, right edges aligned when there is room, never past the viewport. */
export function panelPosition(anchor, viewport, wanted = { width: 360, maxHeight: 480 }) {
  const width = Math.max(0, Math.min(wanted.width, viewport.width - 2 * MARGIN));
  const left = Math.min(Math.max(MARGIN, anchor.right - width), viewport.width - width - MARGIN);
  const top = Math.min(anchor.bottom + 6, viewport.height - MARGIN - 120);
  const maxHeight = Math.max(120, Math.min(wanted.maxHeight, viewport.height - top - MARGIN));
  return { left: Math.round(left), top: Math.round(top), width: Math.round(width), maxHeight: Math.round(maxHeight) };
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return sameDay ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function DefaultItem({ item, markRead, remove, classNames }) {
  const title = item.link
    ? h("a", { className: join("rt-title rt-link", classNames.link), href: item.link }, item.title)
    : h("span", { className: "rt-title" }, item.title);
  return h("div", null,
    h("div", null, title, h("small", { className: `rt-priority rt-${item.priority}` }, item.priority)),
    item.message ? h("div", { className: join("rt-message", classNames.message) }, item.message) : null,
    h("div", { className: "rt-meta" }, h("time", { dateTime: item.createdAt }, formatTime(item.createdAt))),
    h("div", { className: "rt-actions" },
      item.read ? null : h("button", { type: "button", className: join("rt-mark-read", classNames.button),
        onClick: (event) => { event.stopPropagation(); markRead(item.id); } }, "Mark read"),
      h("button", { type: "button", className: join("rt-remove", classNames.button),
        onClick: (event) => { event.stopPropagation(); remove(item.id); } }, "Delete")));
}

export function NotificationCenter(props) {
  const { className = "", classNames = {}, maxItems = 100, onOpen, onItemClick, renderItem, unstyled = false,
    title = "Notifications", emptyText = "No notifications.", panelWidth = 360, icon } = props;
  const n = useNotifications({ ...clientOptions(props), client: props.client, pageSize: props.pageSize });
  const [open, setOpen] = useState(false);
  const [position, setPosition] = useState(null);
  const root = useRef(null);
  const bell = useRef(null);
  if (!unstyled) addDefaultStyles();

  const place = useCallback(() => {
    if (!bell.current) return;
    const rect = bell.current.getBoundingClientRect();
    setPosition(panelPosition(rect, { width: window.innerWidth, height: window.innerHeight },
      { width: panelWidth, maxHeight: 480 }));
  }, [panelWidth]);

  useIsomorphicLayoutEffect(() => {
    if (!open) return undefined;
    place();
    window.addEventListener("resize", place);
    window.addEventListener("scroll", place, true);
    const outside = (event) => root.current && !root.current.contains(event.target) && setOpen(false);
    const escape = (event) => event.key === "Escape" && setOpen(false);
    document.addEventListener("mousedown", outside);
    document.addEventListener("keydown", escape);
    return () => {
      window.removeEventListener("resize", place);
      window.removeEventListener("scroll", place, true);
      document.removeEventListener("mousedown", outside);
      document.removeEventListener("keydown", escape);
    };
  }, [open, place]);

  const toggle = () => {
    setOpen(!open);
    if (!open && onOpen) onOpen();
  };
  const itemClicked = (item, event) => {
    if (!item.read) n.markRead(item.id).catch(() => {});
    if (onItemClick) onItemClick(item, event);
  };
  const helpers = { markRead: n.markRead, remove: n.remove, classNames };
  const items = n.notifications.slice(0, maxItems);
  const shown = open ? items.map((item) => item.id).join(",") : "";
  useEffect(() => {
    if (shown) n.seen(shown.split(","));
  }, [shown]); // eslint-disable-line react-hooks/exhaustive-deps
  const label = `${title} (${n.unreadCount} unread)`;

  return h("div", { className: join("rt-notification-center", className), ref: root },
    h("button", { type: "button", ref: bell, className: join("rt-bell", classNames.bell), "aria-label": label,
      "aria-expanded": open, title: label, onClick: toggle },
    icon || h(BellIcon),
    n.unreadCount > 0 ? h("span", { className: join("rt-badge", classNames.badge) },
      n.unreadCount > 99 ? "99+" : String(n.unreadCount)) : null),
    open ? h("div", { className: join("rt-panel", classNames.panel), role: "dialog", "aria-label": title,
      style: position ? { ...position, visibility: "visible" } : { visibility: "hidden" } },
    h("div", { className: "rt-panel-head" },
      h("b", null, title),
      h("span", null,
        n.permission === "default" ? h("button", { type: "button", className: join("rt-permission", classNames.button),
          onClick: () => n.requestBrowserPermission() }, "Desktop alerts") : null,
        h("button", { type: "button", className: join("rt-mark-all", classNames.button), onClick: () => n.markAllRead(),
          disabled: n.unreadCount === 0 }, "Mark all read"))),
    items.length === 0 ? h("p", { className: "rt-empty" }, n.loading ? "Loading…" : emptyText) : null,
    h("ul", { className: join("rt-list", classNames.list) }, items.map((item) =>
      h("li", { key: item.id, "data-id": item.id, "data-priority": item.priority,
        className: join("rt-item", item.read ? "rt-read" : "rt-unread", classNames.item,
          item.read ? classNames.read : classNames.unread),
        onClick: (event) => itemClicked(item, event) },
      renderItem ? renderItem(item, helpers) : h(DefaultItem, { item, ...helpers })))),
    n.nextCursor && items.length < maxItems ? h("button", { type: "button", className: join("rt-more", classNames.more),
      disabled: n.loadingMore, onClick: () => n.loadMore() }, n.loadingMore ? "Loading…" : "Load more") : null)
      : null);
}

export default NotificationCenter;
