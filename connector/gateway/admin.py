"""The gateway's administration routes, /_gateway/* (errors as {"error": {"code", "message",
"details"}}, like the mock's):

    GET  /_gateway/stats       counters; ?min_<counter>=N / max_pending=N&timeout=S waits
    GET  /_gateway/dropped     messages answered 200 but dropped, with the reason
    GET  /_gateway/deadletter  messages whose delivery failed for good, with the last error
    POST /_gateway/deadletter/redrive   all, or {"messageIds": [...]}, back to pending
    GET  /_gateway/messages/{messageId}  where one message is (state, error, enriched body)
    GET  /_gateway/accepted     the accepted messages kept, oldest first (?after=&limit=)
    GET  /_gateway/health
    GET  /_gateway/violations           tracking-plan violations (--tracking-plan), filtered
    GET  /_gateway/coverage             the plan's coverage (?writeKeyHash= one key's)
    DELETE /_gateway/coverage           forget it (all, or ?writeKeyHash= one key's)
    GET  /_gateway/audiences            with --definitions: the Engage definitions and counters
    POST /_gateway/audiences/sync       with --definitions: one sync now, or {"now": "<ISO>"}

Pages of --allow-origin origins may call and read every route here (httpkit/guard.py answers
their preflights and CORS): the mock's dashboard reads /_gateway/violations that way when the
gateway allows the mock's origin.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

from aiohttp import web

from httpkit import bodies
from httpkit.query import Handler, accepts, int_param, seconds_param

from ..errors import InvalidAdminQuery, InvalidBody, InvalidRequest, MessageNotFound, SyncOrderError
from ..plans.coverage import report
from ..times import format_nanos, parse_timestamp
from .keys import ENGAGE, OUTBOX, PLAN, SETTINGS, WORKER
from .outbox import COUNTERS, COVERAGE_COUNTERS, PLAN_COUNTERS, VIOLATION_FILTERS
from .request_body import decode_json

MAX_PAGE: Final = 10_000
MAX_FILTER_VALUES: Final = 100
VIOLATIONS_PATH: Final = "/_gateway/violations"
COVERAGE_PATH: Final = "/_gateway/coverage"
DEFAULT_WAIT: Final = 5.0


def _page(request: web.Request) -> tuple[int, int]:
    return (int_param(request.query, "limit", 100, 0, MAX_PAGE),
            int_param(request.query, "offset", 0, 0, 2**62))


async def _json_body(request: web.Request, shape: str, keys: set[str]) -> dict[str, Any]:
    """A small JSON object body with no key but `keys`, or {} when there is none; `shape` says
    what is expected."""
    settings = request.app[SETTINGS]
    raw = await bodies.read_body(request, settings.body_timeout,
                                 settings.limits.max_batch_request_bytes)
    if not raw.strip():
        return {}
    try:
        body = decode_json(raw)
    except InvalidRequest as exc:
        raise InvalidBody(exc.message) from None
    if not isinstance(body, dict) or set(body) - keys:
        raise InvalidBody(f"the body is {shape}")
    return body


def stats_handler(planned: bool) -> Handler:
    """GET /_gateway/stats of a gateway with a tracking plan (its counters too) or without."""
    counters = (*COUNTERS, *PLAN_COUNTERS, *COVERAGE_COUNTERS) if planned else COUNTERS

    @accepts("timeout", "max_pending", *(f"min_{counter}" for counter in counters))
    async def get_stats(request: web.Request) -> web.Response:
        return await _stats(request, planned)

    return get_stats


async def _stats(request: web.Request, planned: bool) -> web.Response:
    """The counters. With `min_<counter>=N` (e.g. min_delivered=3), waits until every such
    counter has reached its N, and with `max_pending=N` until at most N are pending (0: all
    settled, the pytest fixture's wait for delivery), or `timeout` seconds passed;
    `waitSatisfied` says which. The plan's counters only with a plan."""
    settings = request.app[SETTINGS]
    wanted: dict[str, int] = {}
    ceiling: int | None = None
    for name in request.query:
        if name == "max_pending":
            ceiling = int_param(request.query, name, 0, 0, 2**62)
        elif name.startswith("min_"):  # the others are refused by @accepts
            wanted[name[4:]] = int_param(request.query, name, 0, 0, 2**62)
    timeout = seconds_param(request.query, "timeout",
                            min(DEFAULT_WAIT, settings.max_wait_seconds),
                            settings.max_wait_seconds)
    outbox = request.app[OUTBOX]

    async def read() -> dict[str, int]:
        stats = await outbox.stats()
        if not planned:
            return stats
        return {**stats, **await outbox.plan_stats(), **await _coverage_counts(request)}

    if not wanted and ceiling is None:
        return web.json_response(await read())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        changed = outbox.changed()  # taken before reading, so no write is missed
        stats = await read()
        satisfied = all(stats[name] >= count for name, count in wanted.items()) and (
            ceiling is None or stats["pending"] <= ceiling)
        remaining = deadline - loop.time()
        if satisfied or remaining <= 0:
            return web.json_response({**stats, "waitSatisfied": satisfied})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), remaining)


@accepts("limit", "offset")
async def get_dropped(request: web.Request) -> web.Response:
    limit, offset = _page(request)
    outbox = request.app[OUTBOX]
    total = (await outbox.stats())["dropped"]
    kept, dropped = await outbox.dropped(limit, offset)
    return web.json_response({"total": total, "kept": kept, "dropped": dropped})


@accepts("limit", "offset")
async def get_deadletter(request: web.Request) -> web.Response:
    limit, offset = _page(request)
    outbox = request.app[OUTBOX]
    total = (await outbox.stats())["deadLettered"]
    messages = await outbox.deadletters(limit, offset)
    return web.json_response({"total": total, "messages": messages})


@accepts()
async def post_redrive(request: web.Request) -> web.Response:
    """Dead letters back to pending: all of them (no body, or {}), or {"messageIds": [...]}."""
    shape = '{} (every dead letter) or {"messageIds": [...]}'
    body = await _json_body(request, shape, {"messageIds"})
    ids: list[str] | None = None
    if "messageIds" in body:
        given = body["messageIds"]
        if not isinstance(given, list) or not all(isinstance(i, str) for i in given):
            raise InvalidBody("messageIds must be an array of strings")
        ids = given
    outbox = request.app[OUTBOX]
    count, missing = await outbox.redrive(ids, request.app[SETTINGS].clock())
    request.app[WORKER].wake()
    return web.json_response({"redriven": count, "notFound": missing})


@accepts()
async def get_message(request: web.Request) -> web.Response:
    message_id = request.match_info["message_id"]
    found = await request.app[OUTBOX].message(message_id)
    if found is None:
        raise MessageNotFound(f"no message {message_id!r} in the outbox or the dropped list",
                       {"messageId": message_id})
    return web.json_response(found)


@accepts("after", "limit")
async def get_accepted(request: web.Request) -> web.Response:
    """The accepted messages the outbox keeps (pending, dead letters, and delivered or skipped
    ones within the dedup window), oldest first, as stored (enriched); `next` is the `after`
    of the next page, null at the end. What `segment-connector plan infer --from-gateway`
    reads."""
    after = int_param(request.query, "after", 0, 0, 2**62)
    limit = int_param(request.query, "limit", 100, 0, MAX_PAGE)
    messages, following = await request.app[OUTBOX].accepted(after, limit)
    return web.json_response({"messages": messages, "next": following})


@accepts("limit", "offset", *VIOLATION_FILTERS)
async def get_violations(request: web.Request) -> web.Response:
    """Tracking-plan violations, oldest first: ?event=&type=&kind=&messageId=&writeKeyHash=
    (exact; writeKeyHash is the SHA-256 hex of the write key sent with the message), paged.
    A filter given several times matches any of its values (?messageId=a&messageId=b)."""
    limit, offset = _page(request)
    filters: dict[str, list[str]] = {}
    for name, value in request.query.items():
        if name in VIOLATION_FILTERS:  # the others are limit and offset (@accepts)
            filters.setdefault(name, []).append(value)
    for name, values in filters.items():
        if len(values) > MAX_FILTER_VALUES:
            raise InvalidAdminQuery(f"{name} is given {len(values)} times; at most "
                               f"{MAX_FILTER_VALUES} values per filter")
    total, violations = await request.app[OUTBOX].violations(filters, limit, offset)
    gate = request.app.get(PLAN)
    return web.json_response({"plan": None if gate is None else gate.plan.name,
                              "total": total, "violations": violations})


async def _coverage_counts(request: web.Request) -> dict[str, int]:
    gate = request.app[PLAN]
    coverage = report(gate.plan, await request.app[OUTBOX].coverage(None), gate.targets)
    (events, planned), (props, listed) = coverage.events, coverage.properties
    return dict(zip(COVERAGE_COUNTERS, (events, planned, props, listed), strict=True))


def _key_hash(request: web.Request) -> str | None:
    given = request.query.getall("writeKeyHash", [])
    if len(given) > 1:
        raise InvalidAdminQuery("writeKeyHash is given more than once; coverage is of one "
                                "write key, or of all (without it)")
    return given[0] if given else None


@accepts("writeKeyHash")
async def get_coverage(request: web.Request) -> web.Response:
    """The plan's coverage by the accepted messages (connector/plans/coverage.py): every
    planned event with its messages and never-seen properties, and the totals."""
    key_hash = _key_hash(request)
    gate = request.app.get(PLAN)
    if gate is None:  # no plan: nothing planned, nothing to cover (the dashboard hides it)
        return web.json_response({"plan": None, "events": [], "totals": None})
    tally = await request.app[OUTBOX].coverage(key_hash)
    return web.json_response(report(gate.plan, tally, gate.targets).as_dict())


@accepts("writeKeyHash")
async def delete_coverage(request: web.Request) -> web.Response:
    """Forget what was covered, to measure from now on (violations stay: they are history)."""
    removed = await request.app[OUTBOX].reset_coverage(_key_hash(request))
    return web.json_response({"reset": True, "rows": removed})


@accepts()
async def get_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@accepts()
async def get_audiences(request: web.Request) -> web.Response:
    return web.json_response(request.app[ENGAGE].status())


@accepts()
async def post_audiences_sync(request: web.Request) -> web.Response:
    """One Engage sync at once: at body.now, or at the sync clock's now (gateway/engage.py)."""
    shape = '{} (sync now) or {"now": "<ISO-8601 date-time>"}'
    body = await _json_body(request, shape, {"now"})
    now = None
    if "now" in body:
        now = parse_timestamp(body["now"])
        if now is None:
            raise InvalidBody(f"now must be an ISO-8601 date-time, not {body['now']!r}")
    try:
        emitted = await request.app[ENGAGE].sync(now)
    except SyncOrderError as exc:
        raise InvalidBody(exc.message) from None
    last = request.app[ENGAGE].simulator.last_sync
    return web.json_response({
        "syncedAt": None if last is None else format_nanos(last),
        "emitted": len(emitted), "messageIds": [m["messageId"] for m in emitted],
    })


def admin_routes(planned: bool) -> list[web.RouteDef]:
    """Every gateway's administration routes; `planned`: with --tracking-plan (its stats)."""
    return [web.get("/_gateway/stats", stats_handler(planned)), *ADMIN_ROUTES]


ADMIN_ROUTES: Final = [  # besides /_gateway/stats (admin_routes)
    web.get("/_gateway/dropped", get_dropped),
    web.get("/_gateway/deadletter", get_deadletter),
    web.post("/_gateway/deadletter/redrive", post_redrive),
    web.get("/_gateway/messages/{message_id}", get_message),
    web.get("/_gateway/accepted", get_accepted),
    web.get("/_gateway/health", get_health),
]
PLAN_ROUTES: Final = [web.get(VIOLATIONS_PATH, get_violations),
                      web.get(COVERAGE_PATH, get_coverage),
                      web.delete(COVERAGE_PATH, delete_coverage)]
ENGAGE_ROUTES: Final = [  # only when Engage definitions are configured
    web.get("/_gateway/audiences", get_audiences),
    web.post("/_gateway/audiences/sync", post_audiences_sync),
]
