"""The Segment-compatible gateway's app factory: wiring only.

Routes: Segment's HTTP Tracking API (handlers.py), so an official Segment SDK can use
`host=<gateway URL>`, and /_gateway/* administration (admin.py). Errors: rendering.py. Parsing
and enrichment are in tracking.py, storage in outbox.py, delivery in worker.py and
../client.py, scheduled Engage syncs in engage.py; serving.py puts the app on a socket.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
from aiohttp import web

from ..client import DeliveryClient
from ..engage.simulator import EngageSimulator
from .admin import ADMIN_ROUTES, ENGAGE_ROUTES, PLAN_ROUTES, allow_loopback_pages
from .engage import EngageRunner
from .handlers import ingest
from .keys import ENGAGE, OUTBOX, PLAN, SETTINGS, WORKER
from .outbox import Outbox
from .planning import PlanGate
from .rendering import error_middleware
from .settings import GatewaySettings
from .tracking import BATCH_ROUTES, ROUTES
from .worker import DeliveryWorker


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    outbox = await Outbox.open(settings.outbox, settings.dedup_window, settings.dropped_kept)
    try:
        async with aiohttp.ClientSession() as session:
            clients: dict[str, DeliveryClient] = {}

            def client_for(token: str) -> DeliveryClient:  # --token-per-write-key
                if token not in clients:
                    config = dataclasses.replace(settings.delivery, token=token)
                    clients[token] = DeliveryClient(session, config)
                return clients[token]

            worker = DeliveryWorker(
                outbox, DeliveryClient(session, settings.delivery), settings.mapping,
                settings.clock, settings.chunk_size, settings.worker_error_pause,
                client_for if settings.token_per_write_key else None,
            )
            app[OUTBOX] = outbox
            app[WORKER] = worker
            worker.start()
            engage = None
            if settings.definitions is not None:
                engage = app[ENGAGE] = EngageRunner(
                    EngageSimulator(settings.definitions), outbox, worker.wake,
                    timedelta(seconds=settings.sync_every), settings.sync_clock, settings.clock)
                engage.start()
            try:
                yield
            finally:
                if engage is not None:
                    await engage.stop()
                await worker.stop()
    finally:
        await outbox.close()


def create_gateway_app(settings: GatewaySettings) -> web.Application:
    app = web.Application(
        client_max_size=settings.limits.max_batch_request_bytes,
        middlewares=[error_middleware],
        # Bodies are inflated by tracking.inflate, after the size check on the wire.
        handler_args={"auto_decompress": False},
    )
    app[SETTINGS] = settings
    if settings.plan is not None:
        app[PLAN] = PlanGate(settings.plan, settings.protocols)
    app.cleanup_ctx.append(_resources)
    for route in sorted(ROUTES, key=lambda r: (r not in BATCH_ROUTES, r)):
        app.router.add_post(f"/v1/{route}", ingest(route))
    app.router.add_routes(ADMIN_ROUTES)
    app.router.add_routes(PLAN_ROUTES)
    app.on_response_prepare.append(allow_loopback_pages)
    if settings.definitions is not None:
        app.router.add_routes(ENGAGE_ROUTES)
    return app
