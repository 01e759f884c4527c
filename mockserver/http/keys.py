"""Typed application state: every key the app stores, in one place."""

from __future__ import annotations

from aiohttp import web

from mockserver.faults import FaultBook
from mockserver.service.events import EventService
from mockserver.settings import Settings
from mockserver.validation.events import EventValidator

SETTINGS = web.AppKey("settings", Settings)
FAULTS = web.AppKey("faults", FaultBook)
SERVICE = web.AppKey("service", EventService)
VALIDATOR = web.AppKey("validator", EventValidator)
