"""Reading a request body within a time limit. Servers inflate it themselves (inflation.py), so
that the size limit applies to what the body becomes, not only to the bytes on the wire."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from .inflation import COMPRESSED, ENCODINGS, inflate
from .problems import BodyTimeout, BodyTooLarge, UnreadableBody

__all__ = ["COMPRESSED", "ENCODINGS", "inflate", "read_body"]


async def read_body(request: web.Request, timeout_seconds: float, limit: int) -> bytes:
    """The raw body as sent. 408 when it has not all arrived within `timeout_seconds` of the
    head (a slow or unfinished upload); 413 over the app's client_max_size (`limit` is the figure
    the message names); 400 when the transfer itself is broken."""
    try:
        if request.content.is_eof():  # all of it came with the head: nothing to wait for
            return _buffered(request, limit)
        async with asyncio.timeout(timeout_seconds):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise BodyTooLarge(f"the body is over the limit of {limit} bytes",
                           {"limitBytes": limit}) from None
    except (HttpProcessingError, web.RequestPayloadError) as exc:
        raise UnreadableBody(f"the body could not be read: {exc}") from None
    except TimeoutError:
        raise BodyTimeout(
            f"the body did not arrive within {timeout_seconds:g} seconds; the connection is "
            "closed", {"limitSeconds": timeout_seconds},
        ) from None


def _buffered(request: web.Request, limit: int) -> bytes:
    """A body aiohttp already holds whole, taken in one call: what request.read() returns,
    without its read loop (the usual case, a small body that came with its head)."""
    data = request.content.read_nowait()
    if request.client_max_size and len(data) > request.client_max_size:
        raise BodyTooLarge(f"the body is over the limit of {limit} bytes", {"limitBytes": limit})
    return data

