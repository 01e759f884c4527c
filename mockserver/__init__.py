"""pointillist-mock: an offline mock of the Pointillist ingest API."""

from .app import create_app
from .errors import MockServerError
from .settings import Limits, Settings

__all__ = ["Limits", "MockServerError", "Settings", "create_app"]
