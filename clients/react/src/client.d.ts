export * from "./realtime.js";
export * from "./notifications.js";
export * from "./events.js";
