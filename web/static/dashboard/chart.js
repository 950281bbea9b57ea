// Line charts as inline SVG, drawn by the page itself (no library, no CDN).
const NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#1098ad", "#7048e8", "#f59f00", "#5c940d",
  "#d6336c", "#495057"];

function node(tag, attrs = {}, text) {
  const element = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * Draw `series` ([{name, color?, points: [[t, value], ...]}]) into `box` (an element) over the time span
 * [from, to] (ms). The y axis starts at 0 and ends at a round maximum. `format(value)` labels the axis.
 */
export function lineChart(box, series, { from, to, format = String, height = 160 } = {}) {
  const width = Math.max(240, box.clientWidth || 480);
  const pad = { left: 44, right: 8, top: 8, bottom: 20 };
  const all = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => Number.isFinite(v));
  const top = niceMax(Math.max(1, ...all));
  const x = (t) => pad.left + ((t - from) / Math.max(1, to - from)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - v / top) * (height - pad.top - pad.bottom);
  const svg = node("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", height, role: "img",
    class: "chart" });
  for (const fraction of [0, 0.5, 1]) {
    const value = top * fraction;
    svg.append(node("line", { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: "grid" }));
    svg.append(node("text", { x: pad.left - 6, y: y(value) + 4, "text-anchor": "end", class: "axis" }, format(value)));
  }
  for (const minutesAgo of [15, 10, 5, 0]) {
    const t = to - minutesAgo * 60000;
    if (t < from) continue;
    svg.append(node("text", { x: x(t), y: height - 4, "text-anchor": minutesAgo === 0 ? "end" : "middle", class: "axis" },
      minutesAgo ? `-${minutesAgo} min` : "now"));
  }
  series.forEach((s, index) => {
    const points = s.points.filter(([t, v]) => t >= from && Number.isFinite(v));
    if (!points.length) return;
    const d = points.map(([t, v], i) => `${i ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const path = node("path", { d, fill: "none", stroke: s.color || PALETTE[index % PALETTE.length], "stroke-width": 2,
      "data-series": s.name });
    path.append(node("title", {}, s.name));
    svg.append(path);
  });
  box.replaceChildren(svg);
  return svg;
}

function niceMax(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
