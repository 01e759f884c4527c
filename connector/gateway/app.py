"""The Segment-compatible gateway's app factory: wiring only.

Routes: Segment's HTTP Tracking API (handlers.py), so an official Segment SDK can use
`host=<gateway URL>`; Segment's CDN and analytics.js's own routes (browser.py), so a web page's
snippet can use `_cdn = <gateway URL>`; and /_gateway/* administration (admin.py). Errors:
rendering.py. Parsing and enrichment are in tracking.py, storage in outbox.py, delivery in
worker.py and ../client.py, scheduled Engage syncs in engage.py; serving.py puts the app on a
socket.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
from aiohttp import web

from httpkit.guard import Guard

from ..client import DeliveryClient
from ..engage.simulator import EngageSimulator
from .admin import ENGAGE_ROUTES, PLAN_ROUTES, admin_routes
from .browser import BROWSER_ROUTES, CDN_ROUTES, cors_middleware
from .capture import Capture
from .engage import EngageRunner
from .handlers import ingest
from .keys import CAPTURE, ENGAGE, HOLDS, OUTBOX, PLAN, SETTINGS, WORKER
from .outbox import Outbox
from .planning import PlanGate
from .rendering import error_middleware
from .settings import ENGAGE_WRITE_KEY, GatewaySettings
from .tracking import BATCH_ROUTES, ROUTES
from .worker import DeliveryWorker


async def _capture(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.capture is None:
        yield
        return
    capture = app[CAPTURE] = Capture(settings.capture, settings.capture_max_bytes)
    try:
        yield
    finally:
        capture.close()


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    outbox = await Outbox.open(settings.outbox, settings.dedup_window, settings.dropped_kept)
    try:
        app[HOLDS] = await outbox.holds()
        async with aiohttp.ClientSession() as session:
            default = DeliveryClient(session, settings.delivery)
            clients: dict[str, DeliveryClient] = {}

            def client_for(token: str) -> DeliveryClient:  # --token-per-write-key
                if token not in clients:
                    config = dataclasses.replace(settings.delivery, token=token)
                    # One destination, one outage: the clients share the watch.
                    clients[token] = DeliveryClient(session, config, watch=default.watch)
                return clients[token]

            worker = DeliveryWorker(
                outbox, default, settings.mapping,
                settings.clock, settings.chunk_size, settings.worker_error_pause,
                settings.summary_every,
                client_for if settings.token_per_write_key else None,
            )
            app[OUTBOX] = outbox
            app[WORKER] = worker
            worker.start()
            engage = None
            if settings.definitions is not None:
                engage = app[ENGAGE] = EngageRunner(
                    EngageSimulator(settings.definitions), outbox, worker.wake,
                    timedelta(seconds=settings.sync_every), settings.sync_clock, settings.clock,
                    settings.scope(ENGAGE_WRITE_KEY, own_token=True))
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
    guard = Guard.serving(("/_gateway/",), settings.host, settings.allow_hosts,
                          settings.allow_origins)
    app = web.Application(
        client_max_size=settings.limits.max_batch_request_bytes,
        middlewares=[cors_middleware, error_middleware, guard.middleware()],
        # Bodies are inflated by request_body.inflate, after the size check on the wire.
        handler_args={"auto_decompress": False},
    )
    app[SETTINGS] = settings
    if settings.plan is not None:
        app[PLAN] = PlanGate(settings.plan, settings.protocols)
    app.cleanup_ctx.append(_capture)
    app.cleanup_ctx.append(_resources)
    for route in sorted(ROUTES, key=lambda r: (r not in BATCH_ROUTES, r)):
        app.router.add_post(f"/v1/{route}", ingest(route))
    for letter, route in sorted(BROWSER_ROUTES.items()):
        app.router.add_post(f"/v1/{letter}", ingest(route))
    app.router.add_routes(CDN_ROUTES)
    app.router.add_routes(admin_routes(settings.plan is not None))
    app.router.add_routes(PLAN_ROUTES)
    guard.install(app)
    if settings.definitions is not None:
        app.router.add_routes(ENGAGE_ROUTES)
    return app
