// The notification center as a hook; every component using it shares one store per client.
import { useEffect, useSyncExternalStore } from "react";

import { notificationStoreFor } from "./client.js";
import { useRealtimeClient } from "./context.js";

/**
 * {notifications, unreadCount, loading, error, preferences, toasts, permission, markRead(id),
 *  markAllRead(), remove(id), refresh(), savePreferences(p), dismissToast(id), requestBrowserPermission()}
 */
export function useNotifications(options) {
  const client = useRealtimeClient();
  const store = notificationStoreFor(client, options);
  useEffect(() => store.start(), [store]);
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
  return {
    ...snapshot,
    markRead: (id, read) => store.markRead(id, read),
    markAllRead: () => store.markAllRead(),
    remove: (id) => store.remove(id),
    refresh: () => store.refresh(),
    savePreferences: (preferences) => store.savePreferences(preferences),
    dismissToast: (id) => store.dismissToast(id),
    requestBrowserPermission: () => store.requestBrowserPermission(),
  };
}
