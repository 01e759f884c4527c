// The stitch conflicts and the fault rules: two small tables.

import { missingRoute } from "./api.js";
import { h, replace } from "./dom.js";

function grid(headings, rows) {
  return h("div", { class: "scroll" }, h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
    h("tbody", {}, rows)));
}

const CONFLICT_ROWS = 500;

/** GET /_mock/conflicts, newest first. */
export async function showConflicts(api, root, onActor) {
  const { conflicts } = await api.get("/_mock/conflicts");
  const shown = conflicts.slice(-CONFLICT_ROWS).reverse();
  const user = (id) => h("button", { type: "button", class: "id-link", onclick: () => onActor(id) },
    id);
  replace(root, conflicts.length
    ? grid(["identifier", "belongs to", "refused for", "event"],
      shown.map((c) => h("tr", {},
        h("td", {}, h("span", { class: "k" }, c.identifier.name), " ", c.identifier.value),
        h("td", {}, user(c.existingUserId)),
        h("td", {}, user(c.attemptedUserId)),
        h("td", { class: "muted" }, c.eventId))))
    : h("p", { class: "muted" }, "No stitch conflicts: no identifier was claimed by two users."),
  conflicts.length > shown.length
    ? h("p", { class: "muted" }, `… and ${conflicts.length - shown.length} older`) : null);
}

const BUDGET = ["times", "durationSeconds", "probability", "seed"];
const SHOWN = new Set(["id", "kind", "fired", "considered", "active", ...BUDGET]);

function effect(rule) {
  return Object.entries(rule).filter(([name]) => !SHOWN.has(name))
    .map(([name, value]) => `${name} ${value}`).join(", ");
}

function budget(rule) {
  const parts = [];
  if (rule.times !== undefined) parts.push(`${rule.times} request${rule.times === 1 ? "" : "s"}`);
  if (rule.durationSeconds !== undefined) parts.push(`${rule.durationSeconds} s`);
  if (rule.probability !== undefined) parts.push(`p=${rule.probability}`);
  if (rule.seed !== undefined) parts.push(`seed ${rule.seed}`);
  return parts.join(", ") || "until cleared";
}

/** GET /_mock/faults; returns how many rules are active, or null when the mock has none. */
export async function showFaults(api, root) {
  let rules;
  try {
    ({ rules } = await api.get("/_mock/faults"));
  } catch (error) {
    if (!missingRoute(error)) throw error;
    replace(root, h("p", { class: "muted", "data-state": "not-available" },
      "Fault rules not available: this mock has no GET /_mock/faults."));
    return null;
  }
  replace(root, rules.length
    ? grid(["rule", "kind", "effect", "budget", "fired", "state"], rules.map((rule) =>
      h("tr", { class: rule.active ? "active" : "spent" },
        h("td", {}, rule.id), h("td", {}, rule.kind), h("td", {}, effect(rule) || "—"),
        h("td", {}, budget(rule)),
        h("td", { class: "num" }, `${rule.fired} of ${rule.considered}`),
        h("td", {}, h("span", { class: `badge ${rule.active ? "on" : "off"}` },
          rule.active ? "active" : "spent")))))
    : h("p", { class: "muted" },
      "No fault rules: every request is answered normally. Add one with POST /_mock/faults."));
  return rules.filter((rule) => rule.active).length;
}
