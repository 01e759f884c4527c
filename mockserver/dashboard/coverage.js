// The tracking plan's coverage from a segment-connector gateway (`?gateway=URL`), in a panel
// beside the feed: which planned events the gateway's traffic met, and which planned properties
// it never sent. Read from GET /_gateway/coverage (CORS, as the violations are: the gateway
// must allow the mock's origin with --allow-origin), again after each new event, at most once
// a second. Names and paths are data: text nodes only.

import { h, replace, throttle } from "./dom.js";

export class PlanCoverage {
  /** `base`: the gateway's URL; `panel`: the section to fill (shown once there is a plan). */
  constructor(base, panel) {
    this.base = base;
    this.panel = panel;
    this.refresh = throttle(() => this.load(), 1000);
  }

  async load() {
    let body;
    try {
      const response = await fetch(new URL("/_gateway/coverage", this.base), { cache: "no-store" });
      body = await response.json();
      if (!response.ok) throw new Error(body?.error?.message ?? `${response.status}`);
    } catch (error) {
      this.show(null, `coverage: ${error.message}`);
      return;
    }
    this.show(body, null);
  }

  show(body, problem) {
    const total = this.panel.querySelector(".coverage-total");
    const list = this.panel.querySelector(".coverage-rows");
    if (problem !== null) {
      this.panel.hidden = false;
      total.textContent = problem;
      replace(list);
      return;
    }
    this.panel.hidden = body.plan === null;
    if (body.plan === null) return;
    const { events, properties } = body.totals;
    total.textContent = `plan ${body.plan}: events ${events.seen}/${events.planned} ` +
      `(${events.percent} %), properties ${properties.seen}/${properties.planned} ` +
      `(${properties.percent} %)`;
    replace(list, body.events.map((row) => h("tr", { "data-seen": String(row.seen) },
      h("th", { scope: "row" }, label(row)),
      h("td", { class: "num" }, String(row.messages)),
      h("td", { class: "num" }, `${row.propertiesSeen}/${row.properties}`),
      h("td", { class: "missing" }, row.seen ? row.missing.join(", ") : "never seen"))));
  }
}

function label(row) {
  const name = row.event === null ? row.type : `${row.type} ${JSON.stringify(row.event)}`;
  return `${name} v${row.version}`;
}
