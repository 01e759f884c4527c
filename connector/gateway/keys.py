"""The gateway app's typed state keys (aiohttp AppKeys), in one place for every module."""

from __future__ import annotations

from aiohttp import web

from .capture import Capture
from .engage import EngageRunner
from .outbox import Outbox
from .planning import PlanGate
from .settings import GatewaySettings
from .worker import DeliveryWorker

SETTINGS = web.AppKey("gateway_settings", GatewaySettings)
OUTBOX = web.AppKey("gateway_outbox", Outbox)
WORKER = web.AppKey("gateway_worker", DeliveryWorker)
ENGAGE = web.AppKey("gateway_engage", EngageRunner)
HOLDS = web.AppKey("gateway_outbox_holds", dict[str, int])  # what the outbox held at open
PLAN = web.AppKey("gateway_plan", PlanGate)
CAPTURE = web.AppKey("gateway_capture", Capture)  # --capture FILE
