"""The inspection API under /_mock/*: every route scoped to the caller's token."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from httpkit.query import accepts
from mockserver.errors import InvalidInspectionQuery
from mockserver.http.keys import FAULTS, SERVICE, SETTINGS
from mockserver.http.parsing import authenticate, float_param, int_param, time_param
from mockserver.service.events import DEFAULT_EVENTS, EventQuery

DEFAULT_ACTOR_TYPE = "Customer"
MAX_PAGE = 10_000


def _tenant(request: web.Request) -> str:
    return authenticate(request, request.app[SETTINGS], allow_query=True)


def _event_query(request: web.Request) -> EventQuery:
    order = request.query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise InvalidInspectionQuery(f"order must be asc or desc, not {order!r}")
    return EventQuery(
        event_type=request.query.get("eventType"),
        user_id=request.query.get("userId"),
        anonymous_id=request.query.get("anonymousId"),
        actor_type=request.query.get("actorType", DEFAULT_ACTOR_TYPE),
        since=time_param(request, "since"),
        until=time_param(request, "until"),
        limit=int_param(request, "limit", 100, 0, MAX_PAGE),
        offset=int_param(request, "offset", 0, 0, 2**62),
        newest_first=order == "desc",
    )


@accepts("eventType", "userId", "anonymousId", "actorType", "since", "until", "limit", "offset",
         "order", "timeout", "min_count", "token")
async def get_events(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    query = _event_query(request)
    service = request.app[SERVICE]
    body: dict[str, Any] = {}
    limits = request.app[SETTINGS].limits
    # Validated even without min_count: a malformed parameter is a 400, never silently ignored.
    timeout = float_param(request, "timeout", min(5.0, limits.max_wait_seconds),
                          limits.max_wait_seconds)
    if "min_count" in request.query:
        min_count = int_param(request, "min_count", 0, 0, 2**62)
        body["minCountReached"] = await service.wait_for_count(tenant, query, min_count, timeout)
    total, events = service.events(tenant, query)
    return web.json_response({"total": total, "events": events, **body})


@accepts("userId", "anonymousId", "actorType", "limit", "offset", "token")
async def get_actor(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    given = [(name, request.query[name]) for name in ("userId", "anonymousId")
             if name in request.query]
    if len(given) != 1 or not given[0][1]:
        raise InvalidInspectionQuery("give exactly one of userId or anonymousId, e.g. ?userId=u_1")
    name, value = given[0]
    actor_type = request.query.get("actorType", DEFAULT_ACTOR_TYPE)
    limit = int_param(request, "limit", DEFAULT_EVENTS, 0, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, 2**62)
    actor = request.app[SERVICE].actor(tenant, (actor_type, name, value), limit, offset)
    return web.json_response(actor)


@accepts("userId", "anonymousId", "actorType", "label", "token")
async def get_label_history(request: web.Request) -> web.Response:
    """The timeline of one label (or number) of an actor: one entry per identify that set it."""
    tenant = _tenant(request)
    given = [(name, request.query[name]) for name in ("userId", "anonymousId")
             if name in request.query]
    if len(given) != 1 or not given[0][1]:
        raise InvalidInspectionQuery("give exactly one of userId or anonymousId, e.g. "
                           "?userId=u_1&label=plan")
    label = request.query.get("label", "")
    if not label:
        raise InvalidInspectionQuery("give the label (or number) key, e.g. ?userId=u_1&label=plan")
    name, value = given[0]
    actor_type = request.query.get("actorType", DEFAULT_ACTOR_TYPE)
    history = request.app[SERVICE].label_history(tenant, (actor_type, name, value), label)
    return web.json_response({"history": history})


@accepts("limit", "offset", "token")
async def get_actors(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    limit = int_param(request, "limit", 100, 0, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, 2**62)
    total, actors = request.app[SERVICE].actors(tenant, limit, offset)
    return web.json_response({"total": total, "actors": actors})


@accepts("token")
async def get_conflicts(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    return web.json_response({"conflicts": request.app[SERVICE].conflicts(tenant)})


@accepts("token")
async def get_rejected(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    return web.json_response({"rejected": request.app[SERVICE].rejected(tenant)})


@accepts("token")
async def get_stats(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    return web.json_response(request.app[SERVICE].stats(tenant))


@accepts("token")
async def post_reset(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    await request.app[SERVICE].reset(tenant)
    request.app[FAULTS].clear(tenant)  # a fresh tenant: no data and no fault rules
    return web.json_response({"reset": True})


@accepts()
async def get_health(request: web.Request) -> web.Response:
    await request.app[SERVICE].check_record()  # 503 store_unavailable when the record is gone
    return web.json_response({"status": "ok"})
