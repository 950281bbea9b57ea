// The framework-free parts: the browser client and the notification store (copies of the server's
// web/static files made by scripts/gen-clients, so this package stands alone), and the event types.
export * from "./realtime.js";
export * from "./notifications.js";
export { EVENT_TYPES } from "./events.js";
