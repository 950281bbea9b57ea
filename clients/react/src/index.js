// @realtime-server/react: hooks and components over realtime.js (React 18 and 19).
export { RealtimeClient, NotificationStore, notificationStoreFor } from "./client.js";
export { RealtimeProvider, useConnectionState, useRealtimeClient, useWebSocket } from "./context.js";
export { useLiveData, useLiveMessages, useLiveStats } from "./useLiveData.js";
export { useNotifications } from "./useNotifications.js";
export { NotificationCenter } from "./NotificationCenter.js";
export { NotificationToast } from "./NotificationToast.js";
