// The dashboard: a token, then the live feed (GET /_mock/events, then GET /_mock/stream),
// counters, the actor view, stitch conflicts and fault rules; with `?gateway=URL`, the
// tracking-plan violations of each event's message. No framework, no build step.

import { ActorView } from "./actor.js";
import { Api, ApiError } from "./api.js";
import { throttle } from "./dom.js";
import { showConflicts, showFaults } from "./lists.js";
import { LiveView, rejectedItem, storedItem } from "./live.js";
import { PlanCoverage } from "./coverage.js";
import { PlanViolations } from "./violations.js";

const TOKEN_KEY = "pointillist-mock.token";
const GATEWAY_KEY = "pointillist-mock.gateway";
const SNAPSHOT = 1000; // recent events loaded on (re)connect: the feed and the chart
const VIEWS = ["live", "actor", "conflicts", "faults"];

const $ = (id) => document.getElementById(id);

const state = { api: null, source: null };

const live = new LiveView({
  feed: $("feed"), feedNote: $("feed-note"), chart: $("rate-chart"), totals: $("totals"),
  types: $("type-counts"), onActor: openActor,
});
const actor = new ActorView({
  root: $("actor"), form: $("actor-form"), input: $("actor-id"),
  onShown: (value) => setHash("actor", value),
});

function status(text, tone) {
  const el = $("status");
  el.textContent = text;
  el.dataset.tone = tone;
}

function badge(view, count) {
  const el = document.querySelector(`[data-view="${view}"] .count`);
  el.textContent = count ? String(count) : "";
}

function setHash(view, value) {
  const hash = value ? `#${view}?id=${encodeURIComponent(value)}` : `#${view}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
  showView(view);
}

function route() {
  const [view, query] = location.hash.slice(1).split("?");
  const name = VIEWS.includes(view) ? view : "live";
  showView(name);
  const id = new URLSearchParams(query ?? "").get("id");
  if (name === "actor" && id && id !== actor.shown?.value) actor.show(id);
}

function showView(name) {
  for (const button of document.querySelectorAll("nav.tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.view === name));
  }
  for (const view of VIEWS) $(`view-${view}`).hidden = view !== name;
  if (state.api) refreshSide();
}

function openActor(value) {
  history.pushState(null, "", `#actor?id=${encodeURIComponent(value)}`);
  route();
}

// -- the tenant --------------------------------------------------------------------------------

const refreshSide = throttle(async () => {
  const api = state.api;
  if (!api) return;
  try {
    // The conflicts list can be long: drawn only while it is on screen; its badge is a count.
    const [stats, faults] = await Promise.all([
      api.get("/_mock/stats"), showFaults(api, $("faults")),
      $("view-conflicts").hidden ? null : showConflicts(api, $("conflicts"), openActor)]);
    if (api !== state.api) return;
    live.showStats(stats);
    badge("conflicts", stats.conflicts);
    badge("faults", faults);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    status(error.message, "bad");
  }
}, 400);

const refreshActor = throttle(() => actor.refresh(), 1000);

async function loadSnapshot(api) {
  const [events, rejected] = await Promise.all([
    api.get("/_mock/events", { order: "desc", limit: SNAPSHOT }),
    api.get("/_mock/rejected")]);
  if (api !== state.api) return;
  live.load(events.events, rejected.rejected, events.total);
  status("live", "good");
  refreshSide();
}

function connect(api) {
  const source = api.stream();
  state.source = source;
  // Every (re)connection reloads the snapshot: the stream replays nothing, and the subscription
  // exists before "open" fires, so snapshot + stream miss nothing.
  source.addEventListener("open", () => {
    loadSnapshot(api).catch((error) => status(error.message, "bad"));
  });
  source.addEventListener("error", () => {
    if (source !== state.source) return;
    status(source.readyState === EventSource.CLOSED ? "stream closed" : "reconnecting…", "warn");
  });
  source.addEventListener("stored", (message) => {
    const record = JSON.parse(message.data);
    live.add(storedItem(record));
    if (actor.involves(record.event)) refreshActor();
    refreshSide();
  });
  source.addEventListener("rejected", (message) => {
    live.add(rejectedItem(JSON.parse(message.data)));
    refreshSide();
  });
  source.addEventListener("reset", () => {
    live.clear();
    actor.reset(api);
    refreshSide();
  });
}

async function openTenant(token) {
  state.source?.close();
  state.source = null;
  state.api = null;
  live.clear();
  actor.reset(null);
  if (!token) {
    status("no token", "idle");
    return;
  }
  localStorage.setItem(TOKEN_KEY, token);
  const url = new URL(location.href);
  url.searchParams.set("token", token);
  history.replaceState(null, "", url);
  const api = new Api(token);
  state.api = api;
  actor.reset(api);
  status("connecting…", "warn");
  try {
    await api.get("/_mock/stats"); // a wrong token is a clear 401 here; EventSource hides it
  } catch (error) {
    if (api !== state.api) return;
    state.api = null;
    status(error.status === 401 ? `token rejected: ${error.message}` : error.message, "bad");
    return;
  }
  if (api !== state.api) return;
  connect(api);
  route();
}

// -- the gateway (tracking-plan violations) ------------------------------------------------------

function gatewayNote(text, ok) {
  const el = $("gateway-note");
  el.textContent = text;
  el.dataset.tone = ok ? "good" : "bad";
}

/** `?gateway=URL` (remembered like the token; `?gateway=` forgets it). */
function openGateway() {
  const given = new URLSearchParams(location.search).get("gateway");
  if (given !== null) {
    if (given) localStorage.setItem(GATEWAY_KEY, given);
    else localStorage.removeItem(GATEWAY_KEY);
  }
  const base = given ?? localStorage.getItem(GATEWAY_KEY);
  if (!base) return;
  let url;
  try {
    url = new URL(base);
  } catch {
    url = null;
  }
  if (!url || !["http:", "https:"].includes(url.protocol)) {
    gatewayNote(`gateway ${base} is not an http(s) URL`, false);
    return;
  }
  if (given === null) { // remembered: shown in the link too, so a copied link has it
    const link = new URL(location.href);
    link.searchParams.set("gateway", base);
    history.replaceState(null, "", link);
  }
  gatewayNote(`violations from ${base}`, true);
  live.plan = new PlanViolations(base, gatewayNote);
  live.coverage = new PlanCoverage(base, $("coverage"));
  live.coverage.refresh();
}

// -- start -------------------------------------------------------------------------------------

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  openTenant($("token").value.trim());
});
for (const button of document.querySelectorAll("nav.tabs button")) {
  button.addEventListener("click", () => setHash(button.dataset.view,
    button.dataset.view === "actor" ? actor.shown?.value : null));
}
window.addEventListener("hashchange", route);
window.addEventListener("popstate", route);

const initial = new URLSearchParams(location.search).get("token") ??
  localStorage.getItem(TOKEN_KEY) ?? "";
$("token").value = initial;
openGateway();
route();
openTenant(initial);
