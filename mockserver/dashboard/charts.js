// Two small inline-SVG charts; colours come from style.css, so they follow the theme.

import { s } from "./dom.js";

const MINUTE = 60_000;

function hhmm(ms) {
  return new Date(ms).toISOString().slice(11, 16);
}

/**
 * Events per minute over the last `minutes` minutes (UTC clock labels), one bar a minute.
 * `times` are arrival times in epoch milliseconds; `width` is the rendered width in pixels, so
 * text keeps its size.
 */
export function perMinuteChart(times, now, width = 360, minutes = 30) {
  const height = 120;
  const top = 16;
  const bottom = 20;
  const end = Math.floor(now / MINUTE) * MINUTE + MINUTE;
  const start = end - minutes * MINUTE;
  const counts = new Array(minutes).fill(0);
  for (const t of times) {
    if (t >= start && t < end) counts[Math.floor((t - start) / MINUTE)] += 1;
  }
  const peak = Math.max(1, ...counts);
  const total = counts.reduce((a, b) => a + b, 0);
  const slot = width / minutes;
  const plot = height - top - bottom;
  const bars = counts.map((count, i) => {
    const barHeight = count ? Math.max(2, (count / peak) * plot) : 0;
    return s("rect", {
      class: "bar", x: (i * slot + 1).toFixed(1), y: (top + plot - barHeight).toFixed(1),
      width: (slot - 2).toFixed(1), height: barHeight.toFixed(1),
    }, s("title", {}, `${hhmm(start + i * MINUTE)} UTC: ${count} event${count === 1 ? "" : "s"}`));
  });
  const label = `Events per minute, last ${minutes} minutes: ${total} in all, ` +
    `at most ${Math.max(...counts)} in one minute`;
  return s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label,
    class: "chart-svg" },
    s("line", { class: "axis", x1: 0, x2: width, y1: top + plot + 0.5, y2: top + plot + 0.5 }),
    s("line", { class: "grid", x1: 0, x2: width, y1: top + 0.5, y2: top + 0.5 }),
    s("text", { class: "tick", x: 2, y: top - 4 }, `${peak}/min`),
    bars,
    s("text", { class: "tick", x: 2, y: height - 4 }, hhmm(start)),
    s("text", { class: "tick", x: width / 2, y: height - 4, "text-anchor": "middle" },
      hhmm(start + (minutes / 2) * MINUTE)),
    s("text", { class: "tick", x: width - 2, y: height - 4, "text-anchor": "end" }, "now"),
  );
}

/**
 * Audience membership over time: one lane per label, filled while the value is "true".
 * `lanes` is [{name, points: [{t, value}]}] with t in epoch milliseconds, oldest first; the
 * last value holds until `end`.
 */
export function membershipChart(lanes, start, end, width = 600) {
  const lane = 38;
  const height = lanes.length * lane + 18;
  const span = Math.max(1, end - start);
  const x = (t) => ((t - start) / span) * width;
  const rows = lanes.map(({ name, points }, row) => {
    const y = row * lane + 16;
    const parts = points.map((point, i) => {
      const from = x(point.t);
      const to = i + 1 < points.length ? x(points[i + 1].t) : width;
      const member = String(point.value) === "true";
      return s("rect", {
        class: member ? "member" : "not-member", x: from.toFixed(1),
        y: member ? y : y + 7, width: Math.max(2, to - from).toFixed(1), height: member ? 14 : 2,
      }, s("title", {}, `${name}: ${point.value} from ${new Date(point.t).toISOString()}`));
    });
    return [s("text", { class: "lane-name", x: 0, y: y - 3 }, name), parts];
  });
  const label = lanes.map(({ name, points }) =>
    `${name}: ${points.map((p) => String(p.value)).join(" then ")}`).join("; ");
  return s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart-svg",
    "aria-label": `Audience membership over time. ${label}` },
    rows,
    s("text", { class: "tick", x: 0, y: height - 2 }, new Date(start).toISOString().slice(0, 10)),
    s("text", { class: "tick", x: width, y: height - 2, "text-anchor": "end" }, "latest →"),
  );
}
