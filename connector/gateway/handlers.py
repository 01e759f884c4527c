"""The Segment HTTP Tracking API routes (POST /v1/batch, /v1/track ...): read, check, enrich,
store durably in the outbox, wake the worker. Every accepted request is answered exactly
`200 {"success": true}` once its messages are durable."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from httpkit import bodies
from httpkit.problems import BodyTooLarge, UnreadableBody

from ..errors import InvalidRequest, InvalidText
from .keys import CAPTURE, ENGAGE, OUTBOX, PLAN, SETTINGS, WORKER
from .planning import write_key_hash
from .request_body import decode_json, inflate
from .tracking import Accepted, authorize, parse_request, prepare, write_key_candidates

SUCCESS: Final = {"success": True}
log = logging.getLogger("connector.gateway")


async def read_raw_body(request: web.Request, limit: int) -> bytes:
    """The body as sent; a body the gateway cannot take is Segment's 400, a late one a 408."""
    settings = request.app[SETTINGS]
    try:
        return await bodies.read_body(request, settings.body_timeout, limit)
    except BodyTooLarge:
        raise InvalidRequest(f"the request body is over the limit of {limit} bytes") from None
    except UnreadableBody as exc:
        raise InvalidRequest(exc.message) from None


def ingest(route: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        settings = request.app[SETTINGS]
        limit = settings.limits.request_bytes(route)
        # Refused from its head alone when it says it is too long: a plain body over the route's
        # limit, a compressed one over what the gateway reads at all (client_max_size).
        encoded = request.headers.get("Content-Encoding", "").strip().lower() not in (
            "", "identity")
        wire_limit = settings.limits.max_batch_request_bytes if encoded else limit
        if request.content_length is not None and request.content_length > wire_limit:
            raise InvalidRequest(f"the request body is over the limit of {limit} bytes")
        raw = await read_raw_body(request, limit)  # client_max_size caps the bytes on the wire
        body = inflate(raw, request.headers.get("Content-Encoding", ""), limit)
        try:
            payload = decode_json(body)
        except InvalidText:  # refused like any unreadable body, and counted: see the stats
            await request.app[OUTBOX].count(loneSurrogatesRefused=1)
            raise
        write_key = authorize(
            write_key_candidates(request.headers.get("Authorization"), payload),
            settings.write_keys)
        token = None
        if settings.token_per_write_key:
            if not write_key:
                raise InvalidRequest("this gateway delivers with the write key as the "
                                     "Pointillist token (--token-per-write-key): send one")
            token = write_key  # kept beside the message in the outbox, never in its body
        parsed = parse_request(route, payload, settings.limits)
        now = settings.clock()
        entries = prepare(parsed, now, settings.new_id, settings.limits)
        violations = observed = None
        gate = request.app.get(PLAN)
        if gate is not None:
            entries, violations, observed = gate.apply(entries)
        key_hash = write_key_hash(write_key) if write_key else None
        # The scope: the write key and the destination (with --token-per-write-key the write
        # key is the destination's token, so that is one scope per key and tenant).
        accepted = await request.app[OUTBOX].accept(
            entries, now, settings.scope(write_key), violations, token, key_hash, observed)
        log.info("POST %s: %d stored, %d deduplicated, %d dropped", request.path,
                 accepted.stored, accepted.duplicates, accepted.dropped)
        request.app[WORKER].wake()
        capture = request.app.get(CAPTURE)
        if capture is not None:  # once durable: nothing of a refused request
            capture.append(entry.message for entry in entries if isinstance(entry, Accepted))
        engage = request.app.get(ENGAGE)
        if engage is not None:
            await engage.accepted(entries, settings.moves_clock(write_key or ""))
        return web.json_response(SUCCESS)

    handle.__name__ = f"post_{route}"
    return handle
