// The framework-free parts, shared with the built-in dashboard (web/static). Publishing this package
// on its own means copying those two files here first; inside the repository they are imported.
export * from "../../../web/static/realtime.js";
export * from "../../../web/static/notifications.js";
