"""pointillist-mock: an offline mock of the Pointillist ingest API.

Exports load lazily: the pytest plugin imports this package in every test run of a project that
has it installed, and should not pay for aiohttp there.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockserver.errors import MockServerError
    from mockserver.http.app import create_app
    from mockserver.settings import Limits, Settings

__all__ = ["Limits", "MockServerError", "Settings", "create_app"]

_HOMES = {"create_app": ".http.app", "MockServerError": ".errors", "Limits": ".settings",
          "Settings": ".settings"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name], __name__), name)
