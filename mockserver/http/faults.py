"""Fault rules over HTTP: the /_mock/faults routes, and what a rule does to an ingest request.

Only the ingest handlers (POST /event, POST /events) call `on_arrival` and `on_storing`: the
inspection API under /_mock/* never misbehaves, so a test can always look at a faulty mock.
The rules themselves (matching, budgets, seeded draws) are in faults.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

from aiohttp import web

from httpkit.query import accepts
from mockserver.errors import InjectedFault
from mockserver.faults import Arrival, Block, Storing
from mockserver.http.keys import FAULTS, SETTINGS
from mockserver.http.parsing import authenticate, check_headers, parse_body, read_body
from mockserver.times import http_date

FAULT_HEADER = "X-Mock-Fault"  # the id of the rule that shaped this answer


def _now() -> float:
    return asyncio.get_running_loop().time()


def _tenant(request: web.Request) -> str:
    return authenticate(request, request.app[SETTINGS], allow_query=True)


# -- /_mock/faults ------------------------------------------------------------------------------


@accepts("token")
async def post_fault(request: web.Request) -> web.Response:
    """Add one rule; answer it as listed, with its id."""
    tenant = _tenant(request)
    limits = request.app[SETTINGS].limits
    check_headers(request, limits)
    payload = parse_body(await read_body(request, limits))
    rule = request.app[FAULTS].add(tenant, payload, _now())
    return web.json_response(rule, status=201)


@accepts("token")
async def get_faults(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    return web.json_response({"rules": request.app[FAULTS].rules(tenant, _now())})


@accepts("token")
async def delete_faults(request: web.Request) -> web.Response:
    tenant = _tenant(request)
    return web.json_response({"cleared": request.app[FAULTS].clear(tenant)})


# -- on the ingest routes -----------------------------------------------------------------------


async def on_arrival(request: web.Request, tenant: str) -> web.StreamResponse | None:
    """Apply latency; return the answer of a status or reset rule, or None to go on."""
    arrival: Arrival = request.app[FAULTS].on_arrival(tenant, _now())
    if arrival.latency_seconds > 0:
        await asyncio.sleep(arrival.latency_seconds)
    if arrival.block is None:
        return None
    if arrival.block.kind == "reset":
        # Read first, so the client has sent everything and meets the reset waiting for an
        # answer (not half-way through sending, which some clients report differently).
        with contextlib.suppress(web.HTTPException, OSError, ValueError):
            await request.read()
        return _reset(request)
    return _status(arrival.block)


def on_storing(request: web.Request, tenant: str) -> Storing:
    """For a valid request about to be stored: whether to cut its answer or hide its events."""
    return request.app[FAULTS].on_storing(tenant, _now())


async def cut(request: web.Request, response: web.Response, rule_id: str) -> web.StreamResponse:
    """Send `response` with its full Content-Length but only half its body, then close."""
    body = response.body
    assert isinstance(body, bytes)
    stream = web.StreamResponse(status=response.status, headers={
        "Content-Type": response.headers["Content-Type"], FAULT_HEADER: rule_id})
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()  # flushes the half written, then closes
    return stream


def _status(block: Block) -> web.Response:
    error = InjectedFault(
        block.status,
        f"fault rule {block.rule_id} answered {block.status}; nothing was stored "
        "(see GET /_mock/faults)",
        {"ruleId": block.rule_id, "kind": block.kind},
    )
    headers = {FAULT_HEADER: block.rule_id}
    if block.retry_after is not None:
        headers["Retry-After"] = _retry_after(block.retry_after, block.retry_after_date)
    return web.json_response(error.body(), status=error.status, headers=headers)


def _retry_after(seconds: int, as_date: bool) -> str:
    return http_date(seconds) if as_date else str(seconds)


def _reset(request: web.Request) -> web.Response:
    """Drop the connection with a TCP reset before any byte of an answer."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")  # asyncio's TransportSocket
        if sock is not None:
            with contextlib.suppress(OSError):  # linger 0: close() sends RST, not FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=204)  # never sent: the connection is gone
