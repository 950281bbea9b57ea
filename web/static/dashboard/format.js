// Figures and times for people: "2 h 5 min", "33.3 KiB", "1,204", "3 s ago", "Today 14:02".

export const number = (n, digits = 0) => (typeof n === "number" && Number.isFinite(n)
  ? n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 }) : n === null || n === undefined ? "–" : String(n));

export function duration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "–";
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function bytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toLocaleString(undefined, { maximumFractionDigits: unit ? 1 : 0 })} ${units[unit]}`;
}

export function rate(perSecond) {
  if (typeof perSecond !== "number" || !Number.isFinite(perSecond)) return "–";
  return `${perSecond.toLocaleString(undefined, { maximumFractionDigits: perSecond < 10 ? 1 : 0 })}/s`;
}

export function ago(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "–";
  if (seconds < 1.5) return "just now";
  return `${duration(seconds)} ago`;
}

/** "14:02:11" today, "Mon 14:02" this week, "3 Mar 14:02" before. */
export function when(iso) {
  const date = iso ? new Date(iso) : new Date();
  const now = new Date();
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === now.toDateString()) return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (now - date < 6 * 86400000) return `${date.toLocaleDateString([], { weekday: "short" })} ${time}`;
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

/** The whole date and time, for a title attribute. */
export const full = (iso) => (iso ? new Date(iso) : new Date()).toLocaleString();

/** "uptimeSeconds" -> "Uptime seconds" */
export function label(key) {
  const words = String(key).replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
