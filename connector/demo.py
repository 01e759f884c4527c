"""`pointillist-mock demo` (`make demo`): the medium scenario, end to end, on a laptop.

The one place that composes both packages (DESIGN.md: "the one-shot demo command may compose
both"; mockserver imports this module lazily, from its `demo` command only): a mock and a
Segment-compatible gateway on free ports, fixtures/medium.jsonl (2,184 Segment messages from 50
shoppers over 60 days) sent through the official Segment Python SDK into the gateway, which maps
and delivers them to the mock. The gateway also runs the Engage audiences of
fixtures/audiences.yaml once a simulated day across the scenario (SYNC_EVERY, in traffic time),
and their true/false identifies travel the same way. The gateway checks every SDK call against
fixtures/tracking-plan.yaml (the shop's tracking plan) and the demo prints what it found, one
line per event, violation kind and path. Then a summary table, the three users whose
actors stitched the most anonymousIds (devices), the dashboard URL (with the gateway's, for the
violations: the gateway allows the mock's origin, --allow-origin, so the dashboard's page may
read GET /_gateway/violations) beside the demo shop's (connector/shop: a page whose
analytics.js snippet goes through the same gateway). The shop sends with a write key of its own
that does not move the audience clock (the scenario ends months before its live clicks: they
must not run the daily syncs in between), and its calls follow the plan.

With --no-wait the demo prints no links: both servers stop as it exits. Ctrl-C while the
fixtures are sent stops at once (the SDK's threads are abandoned, not flushed) with exit 130.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import json
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from aiohttp import ClientSession
from yarl import URL

from httpkit.serving import until_stopped
from mockserver.http.server import serving as serving_mock
from mockserver.settings import Settings

from .config import DeliveryConfig
from .engage.definitions import load_definitions
from .engage.schedule import next_tick, timed
from .gateway.serving import serving as serving_gateway
from .gateway.settings import GatewaySettings
from .pipeline import numbered, plan, read_jsonl
from .plans import load_plan
from .plans.coverage import served_table
from .shop import serving as serving_shop
from .traffic.sdk_replay import replay

TOKEN: Final = "demo-token"
WRITE_KEY: Final = "demo-write-key"
SHOP_WRITE_KEY: Final = "demo-shop-write-key"  # the shop page's: it leaves the audience clock
# A link to the top-level fixtures/ in the source tree; the wheel carries the three files.
FIXTURES: Final = Path(__file__).resolve().parent / "fixtures"
FIXTURE: Final = FIXTURES / "medium.jsonl"
AUDIENCES: Final = FIXTURES / "audiences.yaml"
TRACKING_PLAN: Final = FIXTURES / "tracking-plan.yaml"
SYNC_EVERY: Final = timedelta(days=1)
USERS_SHOWN: Final = 3
WAIT_SECONDS: Final = 30
NO_WAIT_LINE: Final = ("the dashboard and the shop stop with the demo: run it without --no-wait "
                       "to open them")


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _messages() -> list[dict[str, Any]]:
    print(f"sending {FIXTURE.parent.name}/{FIXTURE.name} through the Segment Python SDK")
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return [message for _, message in read_jsonl(lines)]


async def _send_with_sdk(gateway: str, messages: list[dict[str, Any]]) -> None:
    """Replay `messages` through the official SDK, in a daemon thread: a cancelled demo (Ctrl-C)
    stops the replay at the next message and leaves the SDK's queue unflushed, so nothing keeps
    the process alive (not the default executor, which asyncio.run waits for at exit)."""
    from segment.analytics import Client  # the official SDK, as an application uses it

    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    stop = threading.Event()
    client = Client(WRITE_KEY, host=gateway, upload_size=250, max_queue_size=len(messages) + 1)

    def report(error: BaseException | None) -> None:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

    def work() -> None:
        error: BaseException | None = None
        try:
            replay(itertools.takewhile(lambda _: not stop.is_set(), messages), client)
            if not stop.is_set():
                client.shutdown()  # flush, then end the SDK's consumer threads
        except Exception as exc:
            error = exc
        if not stop.is_set():
            loop.call_soon_threadsafe(report, error)

    threading.Thread(target=work, name="demo-sdk-replay", daemon=True).start()
    try:
        await done
    except asyncio.CancelledError:
        stop.set()
        atexit.unregister(client.join)  # the SDK would wait at exit for its queue to drain
        for consumer in client.consumers or []:
            consumer.pause()
        raise


async def _get(http: ClientSession, url: str, **params: str | int) -> Any:
    async with http.get(url, params=params) as response:
        response.raise_for_status()
        return await response.json()


def table(rows: list[tuple[str, str, int]]) -> list[str]:
    header = ("what", "detail", "count")
    width = max(len(header[1]), *(len(detail) for _, detail, _ in rows))
    lines = [f"{header[0]:<18} {header[1]:<{width}} {header[2]:>6}"]
    lines += [f"{what:<18} {detail:<{width}} {n:>6}" for what, detail, n in rows]
    return lines


def gateway_settings(mock: str) -> GatewaySettings:
    """The demo's gateway: Engage syncs daily in traffic time (moved by the SDK replay's write
    key only, not the shop's), the shop's tracking plan, the dashboard's origin allowed."""
    return GatewaySettings(
        delivery=DeliveryConfig(url=mock, token=TOKEN), port=0,
        definitions=load_definitions(AUDIENCES), sync_every=SYNC_EVERY.total_seconds(),
        sync_clock="traffic", clock_write_keys=frozenset({WRITE_KEY}),
        plan=load_plan(TRACKING_PLAN), allow_origins=dashboard_origins(mock))


async def demo(wait: bool, progress: dict[str, bool]) -> list[dict[str, Any]]:
    """Run the demo; return the actors shown. progress["sent"] is set once everything is sent
    and shown (an interrupt after that is the normal end of a waiting demo)."""
    messages = _messages()
    expected = plan(numbered(messages))  # what the gateway will deliver and skip
    ordered, _ = timed(messages)
    async with serving_mock(Settings(port=0)) as mock, \
            serving_gateway(gateway_settings(mock)) as gateway, \
            ClientSession(headers={"apiToken": TOKEN}) as http, \
            serving_shop(gateway, SHOP_WRITE_KEY) as shop:
        print(f"mock listening on {mock}  (token: {TOKEN})")
        print(f"gateway listening on {gateway}  (Segment write key: {WRITE_KEY}; audiences of "
              f"{FIXTURES.name}/{AUDIENCES.name} synced every simulated day)\n")
        await _send_with_sdk(gateway, messages)
        # The traffic ran every daily sync up to its last message; run the one that follows.
        final = next_tick(ordered[-1][0], SYNC_EVERY)
        async with http.post(f"{gateway}/_gateway/audiences/sync",
                             json={"now": final.isoformat()}) as response:
            response.raise_for_status()
        engage = await _get(http, f"{gateway}/_gateway/audiences")
        stats = await _get(http, f"{gateway}/_gateway/stats", timeout=WAIT_SECONDS,
                           min_delivered=len(expected.deliveries) + engage["stats"]["emitted"],
                           min_skipped=sum(expected.skipped.values()))
        mock_stats = await _get(http, f"{mock}/_mock/stats")
        identifies = await _get(http, f"{mock}/_mock/events", eventType="identify",
                                limit=10_000)
        audiences = [d["key"] for d in engage["definitions"] if d["class"] == "audience"]
        rows = _summary(messages, stats, mock_stats)
        rows += [("skipped calls", reason, n) for reason, n in sorted(expected.skipped.items())]
        rows += _transitions(audiences, identifies["events"])
        print("\n".join(table(rows)))
        found = await _get(http, f"{gateway}/_gateway/violations", limit=10_000)
        print("\n".join(violation_lines(found["plan"], stats, found["violations"])))
        covered = await _get(http, f"{gateway}/_gateway/coverage")
        print(f"\ncoverage of the plan {covered['plan']} by the demo's traffic "
              "(GET /_gateway/coverage):")
        print("\n".join(served_table(covered)))

        listing = await _get(http, f"{mock}/_mock/actors", limit=10_000)
        shown = []
        for user_id in _most_stitched(listing["actors"]):
            actor = await _get(http, f"{mock}/_mock/actor", userId=user_id, limit=10_000)
            anonymous = sum(1 for record in actor["events"]
                            if "userId" not in record["event"]["actors"]["Customer"])
            print(f"\nGET /_mock/actor?userId={user_id} -> the stitched actor")
            print(f"  identifiers: {_show(actor['identifiers'])}")
            print(f"  labels:      {_show(actor['labels'])}")
            print(f"  numbers:     {_show(actor['numbers'])}")
            print(f"  events:      {actor['eventCount']} ({anonymous} of them sent under an "
                  "anonymousId only)")
            shown.append(actor)
        progress["sent"] = True
        if not wait:  # both servers stop now: a link would be dead
            print(f"\n{NO_WAIT_LINE}", flush=True)
            return shown
        # With the gateway: the feed marks the events whose messages broke the plan.
        print(f"\ndashboard: {mock}/?token={TOKEN}&gateway={gateway}")
        print(f"shop:      {shop}  (analytics.js through the gateway; watch its clicks on the "
              "dashboard)", flush=True)
        print("serving until Ctrl-C", flush=True)
        await until_stopped()
        return shown


def dashboard_origins(mock: str) -> frozenset[str]:
    """The origins of the mock's dashboard page (as printed, and its localhost form): the
    gateway's --allow-origin, so that page may read GET /_gateway/violations and nothing else
    may (docs/reliability.md: admin routes sealed)."""
    url = URL(mock)
    origins = {str(url.origin())}
    if url.host in ("127.0.0.1", "::1") and url.port is not None:
        origins.add(f"{url.scheme}://localhost:{url.port}")
    return frozenset(origins)


def violation_lines(name: str, stats: Mapping[str, int],
                    violations: list[dict[str, Any]]) -> list[str]:
    """The plan's findings: a headline, then one line per event, kind and path with its count
    and the first message (GET /_gateway/violations lists each one)."""
    where = f"{FIXTURES.name}/{TRACKING_PLAN.name}"
    lines = [f"\ntracking plan {name} ({where}): {stats['violations']} violation(s) in "
             f"{stats['violatingMessages']} message(s)"]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for v in violations:
        groups.setdefault((str(v["event"] or v["type"]), v["kind"], v["path"]), []).append(v)
    for (event, kind, path), found in groups.items():
        lines.append(f"  {len(found):>5} x {event!r} {kind} {path}, e.g. {found[0]['message']}")
    return lines


def _transitions(audiences: list[str], identifies: list[Mapping[str, Any]]
                 ) -> list[tuple[str, str, int]]:
    """How often each audience's flag arrived in the mock as true (entered) and false (left)."""
    counts: Counter[tuple[str, str]] = Counter()
    for record in identifies:
        labels = record["event"].get("labels", {})
        for key in audiences:
            if key in labels:
                counts[key, labels[key]] += 1
    return [(f"audience {flag}", key, counts[key, value])
            for key in audiences for flag, value in (("entered", "true"), ("left", "false"))]


def _summary(messages: list[dict[str, Any]], gateway: Mapping[str, int],
             mock: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    sent = Counter(str(message.get("type")) for message in messages)
    rows = [("SDK calls", kind, n) for kind, n in sorted(sent.items())]
    rows += [("gateway", counter, gateway[counter])
             for counter in ("received", "delivered", "skipped", "dropped", "deadLettered")]
    rows += [("mock events", kind, n) for kind, n in sorted(mock["eventTypes"].items())]
    rows += [("mock actors", "all", mock["actors"]), ("mock actors", "stitched",
                                                       mock["stitchedActors"])]
    return rows


def _most_stitched(actors: list[dict[str, Any]]) -> list[str]:
    """The userIds of the USERS_SHOWN actors with the most anonymousIds (devices); ties: more
    events first, then by userId (not by arrival, which concurrency makes vary)."""
    users = [actor for actor in actors if actor["userId"] is not None]
    users.sort(key=lambda actor: (-len(actor["identifiers"].get("anonymousId", [])),
                                  -actor["eventCount"], actor["userId"]))
    return [actor["userId"] for actor in users[:USERS_SHOWN]]


def run_demo(wait: bool) -> int:
    """0 when the demo ran (a waiting demo ends with Ctrl-C or SIGTERM); 130 when interrupted
    before it was done."""
    progress = {"sent": False}
    try:
        asyncio.run(demo(wait, progress))
    except KeyboardInterrupt:
        if not progress["sent"]:
            print("pointillist-mock demo: interrupted", file=sys.stderr, flush=True)
            return 130
    return 0
