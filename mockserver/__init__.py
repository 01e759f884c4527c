"""pointillist-mock: an offline mock of the Pointillist ingest API.

Floors, lowest first; a module imports only from its own floor or below, never the connector
(tests/unit/test_import_layers.py keeps this true):
- base: errors.py (the one exception tree), settings.py, times.py, codec.py;
- validation/ (the wire contract's checks) and faults.py (fault rules, pure);
- state/: the store and each tenant's documents, indexes, identity graph and views (pure);
- record/: the file on disk: its format, journal, snapshots, compaction, verify/repair/export;
- service/: the one door to the state: writes in journal order, waits, delayed visibility;
- http/ (app wiring, routes, handlers, admin, stream, fault answers, parsing, middlewares,
  server) and dashboard/;
- plugin/ (the pytest plugin and its handle) and the CLI (__main__.py).

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
