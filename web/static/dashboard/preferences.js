// The notification preferences screen: channels, per-type switches, minimum priorities and quiet hours
// with a time-zone picker; saved with PUT /api/notifications/preferences (docs/notifications.md).
import { PRIORITIES } from "../notifications.js";

const CHANNELS = [["inApp", "In the notification center"], ["toast", "Toasts"], ["browser", "Desktop alerts"]];

function zones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"];
  }
}

/** Show the preferences dialog for `store` (a NotificationStore); `el` builds elements. */
export async function openPreferences(store, el) {
  const dialog = document.getElementById("preferences");
  const form = document.getElementById("preferences-form");
  const status = document.getElementById("preferences-status");
  status.textContent = "Loading…";
  dialog.hidden = false;
  let prefs;
  try {
    prefs = await store.loadPreferences();
  } catch (error) {
    status.textContent = `Could not load: ${error.message}`;
    return;
  }
  status.textContent = "";
  const here = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const known = new Set([...Object.keys(prefs.types || {}), ...store.getSnapshot().notifications.map((n) => n.type)]);
  const select = (name, value, options) => el("select", { name }, options.map((option) =>
    el("option", { value: option, selected: option === value }, option)));
  const check = (name, on) => el("input", { type: "checkbox", name, checked: on });
  const typeRow = (type) => {
    const switches = (prefs.types || {})[type] || { inApp: true, toast: true, browser: true };
    return el("tr", { dataset: { type } }, el("td", { class: "mono" }, type),
      CHANNELS.map(([channel]) => el("td", {}, el("label", { class: "switch" }, check(`type:${type}:${channel}`, switches[channel] !== false),
        el("span", { class: "sr" }, `${type} ${channel}`)))));
  };
  const typeRows = el("tbody", {}, [...known].sort().map(typeRow));
  const newType = el("input", { name: "new-type", placeholder: "Add a type, e.g. LEAD_ASSIGNED", "aria-label": "Notification type" });
  const quiet = prefs.quietHours;
  const zone = zones().includes(quiet ? quiet.timezone : here) ? (quiet ? quiet.timezone : here) : "UTC";
  form.replaceChildren(
    el("fieldset", {}, el("legend", {}, "Channels"), CHANNELS.map(([channel, text]) =>
      el("label", { class: "row" }, check(`channel:${channel}`, prefs.channels[channel] !== false), ` ${text}`))),
    el("fieldset", {}, el("legend", {}, "Minimum priority"),
      el("label", { class: "row" }, "Toasts from ", select("min:toast", prefs.minPriority.toast, PRIORITIES)),
      el("label", { class: "row" }, "Desktop alerts from ", select("min:browser", prefs.minPriority.browser, PRIORITIES))),
    el("fieldset", {}, el("legend", {}, "Quiet hours"),
      el("p", { class: "meta" }, "No toasts or desktop alerts in this window (URGENT ones still come); everything stays in the list."),
      el("label", { class: "row" }, check("quiet:on", Boolean(quiet)), " On"),
      el("label", { class: "row" }, "From ", el("input", { type: "time", name: "quiet:start", value: quiet ? quiet.start : "22:00" }),
        " to ", el("input", { type: "time", name: "quiet:end", value: quiet ? quiet.end : "07:00" })),
      el("label", { class: "row" }, "Time zone ", select("quiet:timezone", zone, zones()))),
    el("fieldset", {}, el("legend", {}, "Per type"),
      el("div", { class: "table-wrap" }, el("table", { class: "types" }, el("thead", {}, el("tr", {}, el("th", {}, "type"),
        CHANNELS.map(([, text]) => el("th", {}, text)))), typeRows)),
      el("div", { class: "row" }, newType, el("button", { type: "button", onclick: () => {
        const type = newType.value.trim();
        if (type && !typeRows.querySelector(`[data-type="${CSS.escape(type)}"]`)) typeRows.append(typeRow(type));
        newType.value = "";
      } }, "Add"))));
  form.onsubmit = async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const on = (name) => data.get(name) === "on";
    const types = {};
    for (const row of typeRows.children) {
      const type = row.dataset.type;
      types[type] = Object.fromEntries(CHANNELS.map(([channel]) => [channel, on(`type:${type}:${channel}`)]));
    }
    const next = {
      channels: Object.fromEntries(CHANNELS.map(([channel]) => [channel, on(`channel:${channel}`)])),
      types,
      minPriority: { toast: data.get("min:toast"), browser: data.get("min:browser") },
      quietHours: on("quiet:on") ? { start: data.get("quiet:start"), end: data.get("quiet:end"),
        timezone: data.get("quiet:timezone") } : null,
    };
    status.textContent = "Saving…";
    try {
      await store.savePreferences(next);
      status.textContent = "Saved.";
      dialog.dataset.saved = String(Date.now());
    } catch (error) {
      const fields = error.fields ? ` (${Object.entries(error.fields).map(([k, v]) => `${k}: ${v}`).join("; ")})` : "";
      status.textContent = `Not saved: ${error.message}${fields}`;
    }
  };
  document.getElementById("preferences-close").onclick = () => { dialog.hidden = true; };
}
