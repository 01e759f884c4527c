"""Reading the mock's live feed (/_mock/stream, server-sent events) one message at a time."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import ClientResponse

WAIT = 5.0  # upper bound for anything that should be immediate


async def next_message(response: ClientResponse) -> tuple[str, Any]:
    """The next SSE message as (event name, parsed data), skipping comments and `retry`."""
    kind, data = "message", []
    async with asyncio.timeout(WAIT):
        while True:
            raw = await response.content.readline()
            if not raw:
                raise EOFError("the stream ended")
            line = raw.decode("utf-8").rstrip("\n")
            if not line:
                if data:
                    return kind, json.loads("\n".join(data))
                kind = "message"
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
