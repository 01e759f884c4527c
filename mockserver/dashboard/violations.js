// Tracking-plan violations from a segment-connector gateway (`?gateway=URL`), under the feed's
// events. The two servers meet only on the wire: the connector sends each Segment messageId as
// the Idempotency-Key, the mock lists it as the event's idempotencyKey, and the gateway answers
// GET /_gateway/violations?messageId=… to the pages of the origins it was started with
// --allow-origin (CORS); any other page gets 403 and cannot read the answer.

import { h } from "./dom.js";

const BATCH = 50; // messageIds per request: keeps the URL well under an 8 KB request line
const PAGE = 10_000; // the gateway's largest page
const REMEMBERED = 5_000; // messageIds whose answer is kept (the feed shows 200 rows)

export class PlanViolations {
  /** `base`: the gateway's URL; `onStatus(text, ok)`: what the page says about it. */
  constructor(base, onStatus) {
    this.base = base;
    this.onStatus = onStatus;
    this.found = new Map(); // messageId → its violations ([] when clean)
    this.waiting = new Map(); // messageId → feed rows to mark once the answer comes
    this.scheduled = false;
  }

  /** Mark `row` with the violations of `key` (an event's idempotencyKey), now or later. */
  attach(row, key) {
    if (typeof key !== "string" || !key) return;
    const known = this.found.get(key);
    if (known) {
      mark(row, known);
      return;
    }
    const rows = this.waiting.get(key);
    if (rows) rows.push(row);
    else this.waiting.set(key, [row]);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.fetchWaiting()); // one request for a whole snapshot or frame
    }
  }

  async fetchWaiting() {
    this.scheduled = false;
    const waiting = this.waiting;
    this.waiting = new Map();
    const keys = [...waiting.keys()];
    for (let start = 0; start < keys.length; start += BATCH) {
      const batch = keys.slice(start, start + BATCH);
      let violations;
      try {
        violations = await this.read(batch);
      } catch (error) {
        this.onStatus(`violations: ${error.message}`, false);
        continue; // those rows stay unmarked; rows drawn later ask again
      }
      this.onStatus(`violations from ${this.base}`, true);
      if (this.found.size > REMEMBERED) this.found.clear();
      for (const key of batch) this.found.set(key, []);
      for (const violation of violations) this.found.get(violation.messageId)?.push(violation);
      for (const key of batch) {
        for (const row of waiting.get(key)) mark(row, this.found.get(key));
      }
    }
  }

  /** Every violation of `ids`, oldest first. */
  async read(ids) {
    const all = [];
    for (;;) {
      const url = new URL("/_gateway/violations", this.base);
      for (const id of ids) url.searchParams.append("messageId", id);
      url.searchParams.set("limit", String(PAGE));
      url.searchParams.set("offset", String(all.length));
      let response;
      try {
        response = await fetch(url, { cache: "no-store" }); // no token: it is the mock's
      } catch (error) {
        // A 403 without CORS looks the same to the page as no answer at all.
        throw new Error(`the gateway ${this.base} cannot be reached, or does not let this page ` +
          `read it: start it with --allow-origin ${location.origin} (${error.message})`);
      }
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
      }
      all.push(...body.violations);
      if (!body.violations.length || all.length >= body.total) return all;
    }
  }
}

/** The violations under a feed row, as text nodes (kinds, paths and messages are data). */
function mark(row, violations) {
  row.querySelector(".plan-violations")?.remove();
  if (!violations.length) return;
  row.classList.add("violating");
  row.append(h("ul", { class: "plan-violations", "aria-label": "tracking-plan violations" },
    violations.map((v) => h("li", {},
      h("span", { class: "kind" }, String(v.kind)), " ",
      h("code", {}, String(v.path ?? "")), " ",
      h("span", { class: "message" }, String(v.message ?? ""))))));
}
