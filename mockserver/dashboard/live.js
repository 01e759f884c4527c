// The live view: the feed of stored and rejected requests (newest first), each stored event with
// its tracking-plan violations when a gateway is given, the counters and the events-per-minute
// chart.

import { perMinuteChart } from "./charts.js";
import { h, plural, replace, time } from "./dom.js";

const FEED_ROWS = 200; // rows kept in the page
const WINDOW_MS = 30 * 60_000; // what the chart shows

/** A stored event or a rejection, as one feed item with a sort key. */
export function storedItem(record) {
  return { key: record.id, at: record.receivedAt, kind: "stored", data: record };
}

export function rejectedItem(rejection) {
  return { key: `r:${JSON.stringify(rejection)}`, at: rejection.at, kind: "rejected",
    data: rejection };
}

function newestFirst(a, b) {
  if (a.at !== b.at) return a.at < b.at ? 1 : -1;
  return a.key < b.key ? 1 : a.key > b.key ? -1 : 0;
}

function pairs(object, cls) {
  return Object.entries(object ?? {}).map(([name, value]) =>
    h("span", { class: `pair ${cls}` }, h("span", { class: "k" }, name), "=",
      h("span", { class: "v" }, String(value))));
}

function actorLinks(actors, onActor) {
  return Object.entries(actors ?? {}).map(([type, ids]) =>
    h("span", { class: "actor" },
      type === "Customer" ? null : h("span", { class: "muted" }, `${type} `),
      Object.entries(ids ?? {}).map(([name, value]) =>
        h("button", { type: "button", class: "id-link", title: `show the actor of ${name} ${value}`,
          onclick: () => onActor(String(value)) },
          h("span", { class: "k" }, name), " ", String(value)))));
}

function storedRow(record, onActor) {
  const event = record.event;
  return h("li", { class: "row stored", "data-id": record.id,
    "data-idempotency-key": record.idempotencyKey },
    h("div", { class: "line" },
      h("span", { class: "type" }, String(event.eventType)),
      h("span", { class: "muted" }, "at "), time(record.eventTime),
      h("span", { class: "spacer" }),
      h("span", { class: "muted small" }, record.id, " · received ",
        time(record.receivedAt, record.receivedAt.slice(11, 19)))),
    h("div", { class: "line" }, actorLinks(event.actors, onActor),
      pairs(event.labels, "label"), pairs(event.numbers, "number")));
}

function rejectedRow(rejection) {
  return h("li", { class: "row rejected" },
    h("div", { class: "line" },
      h("span", { class: "type" }, `Rejected ${rejection.status} ${rejection.code}`),
      h("span", { class: "muted" }, `${rejection.method} ${rejection.path}`),
      h("span", { class: "spacer" }),
      h("span", { class: "muted small" }, "at ", time(rejection.at, rejection.at.slice(11, 19)))),
    h("div", { class: "line reason" }, rejection.message),
    rejection.violations.length
      ? h("ul", { class: "violations" }, rejection.violations.map((v) =>
        h("li", {}, h("code", {}, v.path), " ", v.message)))
      : null);
}

export class LiveView {
  constructor({ feed, feedNote, chart, totals, types, onActor }) {
    Object.assign(this, { feedEl: feed, feedNote, chartEl: chart, totalsEl: totals,
      typesEl: types, onActor });
    this.plan = null; // a PlanViolations (violations.js) when a gateway is given
    this.coverage = null; // a PlanCoverage (coverage.js), likewise
    this.clear();
    new ResizeObserver(() => this.drawChart()).observe(chart);
    setInterval(() => this.drawChart(), 15_000); // the window slides even when nothing arrives
  }

  clear() {
    this.items = []; // newest first, at most FEED_ROWS
    this.keys = new Set();
    this.arrivals = new Map(); // event id → arrival (ms), for the chart
    this.pending = [];
    replace(this.feedEl);
    this.feedNote.textContent = "";
    this.drawChart();
  }

  /** Merge a snapshot (GET /_mock/events?order=desc, GET /_mock/rejected) into the feed. */
  load(records, rejections, total) {
    for (const record of records) this.arrivals.set(record.id, Date.parse(record.receivedAt));
    const merged = [...this.items, ...this.pending,
      ...records.map(storedItem), ...rejections.map(rejectedItem)];
    const unique = new Map(merged.map((item) => [item.key, item]));
    this.items = [...unique.values()].sort(newestFirst).slice(0, FEED_ROWS);
    this.pending = [];
    this.keys = new Set(this.items.map((item) => item.key));
    replace(this.feedEl, this.items.map((item) => this.row(item)));
    this.feedNote.textContent = total > records.length
      ? `(opened with the latest ${records.length.toLocaleString("en")} of ` +
        `${plural(total, "stored event")})`
      : "";
    this.drawChart();
  }

  /** One live message; drawn on the next frame, with whatever else arrived meanwhile. */
  add(item) {
    if (this.keys.has(item.key)) return;
    this.keys.add(item.key);
    if (item.kind === "stored") this.arrivals.set(item.key, Date.parse(item.at));
    this.pending.push(item);
    if (this.pending.length > FEED_ROWS) this.pending.splice(0, this.pending.length - FEED_ROWS);
    if (this.pending.length === 1) requestAnimationFrame(() => this.flush());
  }

  flush() {
    const fresh = this.pending.sort(newestFirst);
    this.pending = [];
    if (!fresh.length) return;
    this.feedEl.prepend(...fresh.map((item) => this.row(item)));
    this.items = [...fresh, ...this.items];
    for (const gone of this.items.splice(FEED_ROWS)) this.keys.delete(gone.key);
    while (this.feedEl.children.length > FEED_ROWS) this.feedEl.lastElementChild.remove();
    this.drawChart();
  }

  row(item) {
    if (item.kind !== "stored") return rejectedRow(item.data);
    const row = storedRow(item.data, this.onActor);
    this.plan?.attach(row, item.data.idempotencyKey); // with ?gateway=: its violations
    this.coverage?.refresh(); // and the plan's coverage, at most once a second
    return row;
  }

  drawChart() {
    const now = Date.now();
    for (const [id, t] of this.arrivals) if (t < now - WINDOW_MS) this.arrivals.delete(id);
    const width = Math.round(this.chartEl.clientWidth) || 360;
    replace(this.chartEl, perMinuteChart(this.arrivals.values(), now, width));
  }

  /** The counters, from GET /_mock/stats. */
  showStats(stats) {
    const totals = [["events", stats.events], ["actors", stats.actors],
      ["stitched actors", stats.stitchedActors], ["conflicts", stats.conflicts],
      ["rejected", stats.rejected]];
    replace(this.totalsEl, totals.map(([name, count]) =>
      h("div", { class: `total${name === "rejected" && count ? " bad" : ""}`, "data-name": name },
        h("dt", {}, name), h("dd", {}, count.toLocaleString("en")))));
    const types = Object.entries(stats.eventTypes).sort((a, b) => b[1] - a[1] ||
      (a[0] < b[0] ? -1 : 1));
    const peak = Math.max(1, ...types.map(([, n]) => n));
    replace(this.typesEl, types.length
      ? types.map(([type, count]) => h("tr", {},
        h("th", { scope: "row" }, type),
        h("td", { class: "num" }, count.toLocaleString("en")),
        h("td", { class: "meter" }, h("span", { style: `width:${(100 * count) / peak}%` }))))
      : h("tr", {}, h("td", { class: "muted" }, "No events stored yet.")));
  }
}

