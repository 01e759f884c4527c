"""The ingest API: POST /event and POST /events (mock extension)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from httpkit.problems import HttpProblem
from mockserver.errors import BadRequest, InvalidPayload, PayloadTooLarge
from mockserver.faults import STORED_AS_USUAL
from mockserver.http.faults import cut, on_arrival, on_storing
from mockserver.http.keys import FAULTS, SERVICE, SETTINGS, VALIDATOR
from mockserver.http.parsing import (
    authenticate,
    check_headers,
    parse_body,
    read_body,
)
from mockserver.http.rejections import rejection
from mockserver.validation.events import Normalized, Violation

IDEMPOTENCY_HEADER = "Idempotency-Key"


async def post_event(request: web.Request) -> web.StreamResponse:
    return await _ingest(request, batch=False)


async def post_events(request: web.Request) -> web.StreamResponse:
    return await _ingest(request, batch=True)


async def _ingest(request: web.Request, batch: bool) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    tenant = authenticate(request, settings)
    faults = app[FAULTS]
    if faults.any_for(tenant):  # the tenant's fault rules (http/faults.py)
        injected = await on_arrival(request, tenant)
        if injected is not None:
            return injected
    body = b""
    try:
        check_headers(request, settings.limits)
        body = await read_body(request, settings.limits)
        payload = parse_body(body)
        items = _validated(request, payload, batch)
        key = _idempotency_key(request)
        storing = on_storing(request, tenant) if faults.any_for(tenant) else STORED_AS_USUAL
        ids, replay = await app[SERVICE].write(tenant, items, key, storing.hide_seconds)
    except HttpProblem as exc:
        app[SERVICE].reject(tenant, rejection(request, exc, body))
        raise
    response = web.Response(text=answer_text(ids, replay, batch), status=200 if replay else 202,
                            content_type="application/json")  # as web.json_response's
    if storing.truncate_rule is not None:
        return await cut(request, response, storing.truncate_rule)
    return response


def answer_text(ids: list[str], replay: bool, batch: bool) -> str:
    """json.dumps of the answer ({"id", "duplicate"}, or {"ids", "count", "duplicate"} for a
    batch), character for character, written directly: ids are `evt_` and digits, nothing to
    escape. O(ids)."""
    duplicate = "true" if replay else "false"
    if batch:
        listed = '", "'.join(ids)
        return f'{{"ids": ["{listed}"], "count": {len(ids)}, "duplicate": {duplicate}}}'
    return f'{{"id": "{ids[0]}", "duplicate": {duplicate}}}'


def _validated(
    request: web.Request, payload: Any, batch: bool
) -> list[tuple[Mapping[str, Any], Normalized]]:
    validator = request.app[VALIDATOR]
    if not batch:
        violations, normalized = validator.check(payload)
        if normalized is None:
            raise _invalid(violations, "the event is invalid")
        return [(payload, normalized)]
    limit = request.app[SETTINGS].limits.max_batch_events
    if not isinstance(payload, list) or not payload:
        raise InvalidPayload(
            "POST /events takes a non-empty JSON array of events",
            {"violations": [{"path": "$", "message": "must be a non-empty array"}]},
        )
    if len(payload) > limit:
        raise PayloadTooLarge(
            f"the batch has {len(payload)} events; the limit is {limit}", {"limitEvents": limit}
        )
    items, violations, bad = [], [], []
    for index, event in enumerate(payload):
        found, normalized = validator.check(event, f"$[{index}]")
        if normalized is None:
            bad.append(index)
            violations.extend(found)
        else:
            items.append((event, normalized))
    if bad:
        raise _invalid(violations, f"{len(bad)} of {len(payload)} events are invalid; "
                       "nothing was stored", invalidIndexes=bad)
    return items


def _invalid(violations: list[Violation], summary: str, **extra: Any) -> InvalidPayload:
    first = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return InvalidPayload(
        f"{summary}: {first.path}: {first.message}{more}",
        {"violations": [v.as_dict() for v in violations], **extra},
    )


def _idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > 255:
        raise BadRequest(f"{IDEMPOTENCY_HEADER} must be 1 to 255 characters")
    return key
