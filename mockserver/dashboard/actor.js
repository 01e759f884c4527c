// The actor view: find an actor by any identifier; show its stitched identifiers, its journey
// (every event, with the moment identities were linked), its profile, and the history of each
// audience label (a label whose value is "true" or "false").

import { ApiError, missingRoute } from "./api.js";
import { membershipChart } from "./charts.js";
import { h, plural, replace, time } from "./dom.js";

const TIMELINE_ROWS = 500;
const AUDIENCE_VALUES = new Set(["true", "false"]);

function section(title, ...content) {
  return h("section", { class: "panel" }, h("h2", {}, title), content);
}

function table(rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "scroll" }, h("table", { class: "kv" }, h("tbody", {},
    rows.map(([key, value]) => h("tr", {}, h("th", { scope: "row" }, key),
      h("td", {}, String(value)))))));
}

/** Which identifier kind holds `value`: userId first. Asked through /_mock/events (limit 0),
 * which answers an unknown identifier with total 0 rather than a 404. */
async function identify(api, value) {
  const [byUser, byAnonymous] = await Promise.all(["userId", "anonymousId"].map((name) =>
    api.get("/_mock/events", { [name]: value, limit: 0 })));
  if (byUser.total) return "userId";
  if (byAnonymous.total) return "anonymousId";
  return null;
}

function carried(event, actorType) {
  return Object.entries(event.actors?.[actorType] ?? {})
    .map(([name, value]) => `${name} ${value}`).join(" + ");
}

function timeline(actor) {
  const links = new Map(actor.links.map((link) => [link.eventId, link]));
  const events = [...actor.events].sort((a, b) =>
    a.eventTime < b.eventTime ? -1 : a.eventTime > b.eventTime ? 1 : a.id < b.id ? -1 : 1);
  const firstLink = actor.links[0]?.eventTime ?? null;
  const rows = [];
  for (const record of events.slice(0, TIMELINE_ROWS)) {
    const link = links.get(record.id);
    const before = firstLink !== null && record.eventTime < firstLink;
    rows.push(h("li", { class: `step${link ? " linked" : ""}${before ? " before" : ""}`,
      "data-id": record.id },
      h("div", { class: "line" }, time(record.eventTime),
        h("span", { class: "type" }, record.event.eventType),
        record.event.actors?.[actor.actorType]?.userId === undefined
          ? h("span", { class: "tag" }, "anonymous") : null),
      h("div", { class: "line muted small" }, `as ${carried(record.event, actor.actorType)}`),
      link ? h("div", { class: "line link-note" }, "identities linked: ",
        link.identifiers.map((id) => `${id.name} ${id.value}`).join(" ↔ ")) : null));
  }
  if (actor.eventCount > TIMELINE_ROWS) {
    rows.push(h("li", { class: "muted" }, `… and ${actor.eventCount - TIMELINE_ROWS} more`));
  }
  return h("ol", { class: "timeline" }, rows);
}

function audiences(histories, actor) {
  const shown = histories.filter(({ history }) => history.length);
  if (!shown.length) return null;
  const times = shown.flatMap(({ history }) => history.map((p) => Date.parse(p.eventTime)));
  const last = Math.max(...actor.events.map((e) => Date.parse(e.eventTime)), ...times);
  const lanes = shown.map(({ label, history }) => ({
    name: label, points: history.map((p) => ({ t: Date.parse(p.eventTime), value: p.value })),
  }));
  const first = Math.min(...times);
  // The latest value holds on: leave room after the last change so it shows as a span.
  const end = last + Math.max(3_600_000, (last - first) * 0.15);
  const chart = h("div", { class: "chart" });
  requestAnimationFrame(() => chart.append(
    membershipChart(lanes, first, end, Math.round(chart.clientWidth) || 600)));
  return [chart, h("ul", { class: "histories" }, shown.map(({ label, history }) =>
    h("li", { "data-label": label },
      h("div", { class: "line" }, h("span", { class: "k" }, label), " ",
        h("span", { class: "summary" }, history.map((p) => String(p.value)).join(" → "))),
      h("ol", { class: "changes" }, history.map((p) =>
        h("li", { class: `v-${String(p.value)}` }, String(p.value), " ", time(p.eventTime)))))))];
}

export class ActorView {
  constructor({ root, form, input, onShown }) {
    Object.assign(this, { root, input, onShown });
    this.api = null;
    this.shown = null; // {name, value, identifiers: Set}
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.show(input.value.trim());
    });
  }

  reset(api) {
    this.api = api;
    this.shown = null;
    this.input.value = "";
    replace(this.root, h("p", { class: "muted" },
      "Search a userId or an anonymousId, or pick an identifier in the live feed."));
  }

  /** Does a stored event touch the actor on screen? */
  involves(event) {
    if (!this.shown) return false;
    return Object.values(event.actors ?? {}).some((ids) =>
      Object.values(ids ?? {}).some((value) => this.shown.identifiers.has(String(value))));
  }

  refresh() {
    if (this.shown) this.show(this.shown.value, { quiet: true });
  }

  async show(value, { quiet = false } = {}) {
    this.input.value = value;
    if (!value || !this.api) return;
    if (!quiet) replace(this.root, h("p", { class: "muted" }, `Looking up ${value}…`));
    const api = this.api;
    try {
      const name = await identify(api, value);
      if (api !== this.api) return;
      if (name === null) {
        this.shown = null;
        replace(this.root, h("p", { class: "notice" },
          `No actor has the identifier ${value} (as a userId or an anonymousId).`));
        return;
      }
      // The view pages an actor's events: the timeline shows at most TIMELINE_ROWS of them.
      const actor = await api.get("/_mock/actor", { [name]: value, limit: TIMELINE_ROWS });
      const histories = await this.histories(api, name, value, actor);
      if (api !== this.api) return;
      this.shown = { name, value,
        identifiers: new Set(Object.values(actor.identifiers).flat().map(String)) };
      this.render(actor, histories);
      this.onShown?.(value);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      replace(this.root, h("p", { class: "notice bad" }, error.message));
    }
  }

  async histories(api, name, value, actor) {
    const labels = Object.entries(actor.labels)
      .filter(([, v]) => AUDIENCE_VALUES.has(String(v))).map(([label]) => label).sort();
    try {
      return await Promise.all(labels.map(async (label) => ({ label,
        history: (await api.get("/_mock/labels/history", { [name]: value, label })).history })));
    } catch (error) {
      if (missingRoute(error)) return null; // a mock without GET /_mock/labels/history
      throw error;
    }
  }

  render(actor, histories) {
    const ids = Object.entries(actor.identifiers);
    const heading = actor.userId ?? Object.values(actor.identifiers).flat()[0];
    const profile = [...Object.entries(actor.labels), ...Object.entries(actor.numbers)]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    let audienceBody;
    if (histories === null) {
      audienceBody = h("p", { class: "muted", "data-state": "not-available" },
        "Label history not available: this mock has no GET /_mock/labels/history.");
    } else {
      audienceBody = audiences(histories, actor) ?? h("p", { class: "muted" },
        "No audience labels (labels set to true or false by identify events).");
    }
    replace(this.root,
      h("div", { class: "actor-head panel" },
        h("h2", {}, `${actor.actorType} `, h("span", { class: "who" }, heading)),
        h("dl", { class: "identifiers" }, ids.map(([name, values]) => h("div", {},
          h("dt", {}, name), h("dd", {}, values.map((v) => h("span", { class: "chip" }, v)))))),
        h("p", { class: "muted small" }, `${plural(actor.eventCount, "event")}, ` +
          `${plural(actor.links.length, "link")}`)),
      h("div", { class: "actor-grid" },
        section("Journey", timeline(actor)),
        h("div", { class: "stack" },
          section("Profile", table(profile, "No labels or numbers from identify events yet.")),
          section("Audiences", audienceBody))));
  }
}
