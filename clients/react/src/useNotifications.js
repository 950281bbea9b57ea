"use client";
// The notification center as a hook; every component using it shares one store per client.
import { useEffect, useSyncExternalStore } from "react";

import { notificationStoreFor } from "./client.js";
import { useRealtimeClient } from "./context.js";

const STORE_OPTIONS = ["pageSize", "toastMinPriority", "toastMs", "browserNotifications"];

/**
 * {notifications, unreadCount, loading, error, preferences, toasts, permission, nextCursor, loadingMore,
 *  markRead(id), markAllRead(), remove(id), refresh(), loadMore(), savePreferences(p), dismissToast(id),
 *  requestBrowserPermission(), seen(ids)}: seen() acknowledges what the app showed (delivery records).
 * `options`: the store's (pageSize, toastMinPriority, toastMs, browserNotifications; the first caller's
 * win, as the store is shared) and, without a Provider, the client's ({url, token} or {client}).
 */
export function useNotifications(options) {
  const client = useRealtimeClient(options);
  const storeOptions = {};
  if (options) for (const key of STORE_OPTIONS) if (options[key] !== undefined) storeOptions[key] = options[key];
  const store = notificationStoreFor(client, storeOptions);
  useEffect(() => store.start(), [store]);
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return {
    ...snapshot,
    markRead: (id, read) => store.markRead(id, read),
    markAllRead: () => store.markAllRead(),
    remove: (id) => store.remove(id),
    refresh: () => store.refresh(),
    loadMore: () => store.loadMore(),
    savePreferences: (preferences) => store.savePreferences(preferences),
    dismissToast: (id) => store.dismissToast(id),
    requestBrowserPermission: () => store.requestBrowserPermission(),
    seen: (ids) => store.seen(ids),
  };
}
