"""Typed application state: every key the app stores, in one place."""

from __future__ import annotations

from aiohttp import web

from .faults import FaultBook
from .recorder import Recorder
from .settings import Settings
from .validation import EventValidator

SETTINGS = web.AppKey("settings", Settings)
FAULTS = web.AppKey("faults", FaultBook)
RECORDER = web.AppKey("recorder", Recorder)
VALIDATOR = web.AppKey("validator", EventValidator)
