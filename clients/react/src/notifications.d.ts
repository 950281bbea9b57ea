// notifications.js's types live in realtime.d.ts beside it (one file for the browser client).
export { NotificationStore, notificationStoreFor, priorityAtLeast } from "./realtime.js";
export type { Notification, NotificationPreferences, NotificationSnapshot, NotificationStoreOptions } from "./realtime.js";
