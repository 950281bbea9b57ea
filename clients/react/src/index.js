"use client";
// @realtime-server/react: hooks and components over the realtime-server browser client (React 18 and 19).
export { RealtimeClient, NotificationStore, notificationStoreFor, EVENT_TYPES } from "./client.js";
export { RealtimeProvider, useClientState, useConnectionState, useRealtimeClient, useWebSocket } from "./context.js";
export { useLiveData, useLiveMessages, useLiveStats } from "./useLiveData.js";
export { useNotifications } from "./useNotifications.js";
export { BellIcon, NotificationCenter, panelPosition } from "./NotificationCenter.js";
export { NotificationToast } from "./NotificationToast.js";
