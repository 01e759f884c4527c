"""Filling a mock with many events through its own POST /events, fast.

The events are those of the wrk scripts (same shape, same size): FILL_USERS users, each with a
userId and an anonymousId that stitch, spread over a few event types. One actor, ACTOR_100,
gets exactly 100 events in the first batch (40 sent under its anonymousId only, then an identify
that links it, then tracks): GET /_mock/actor?userId=ACTOR_100 is the query the flat-cost stage
times at every size.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import aiohttp

FILL_USERS = 10_000
ACTOR_100 = "bench-actor-100"
ACTOR_100_ANON = "bench-anon-100"
BATCH = 1000  # the mock's default max_batch_events
TYPES = ("Order Completed", "Product Viewed", "Product Added", "Checkout Started", "identify")

_TEMPLATE = (
    '{{"eventSource":"Segment","eventType":"{type}","eventTime":"2026-{month:02d}-{day:02d}T'
    '{hour:02d}:{minute:02d}:00.000Z","actors":{{"Customer":{{{ids}}}}},'
    '"labels":{{"plan":"pro","campaign.source":"newsletter","sku":"sku-{sku}"}},'
    '"numbers":{{"revenue":{revenue}}},"location":{{"city":"Paris","country":"France"}}}}'
)


def event_json(index: int, ids: str | None = None, event_type: str | None = None) -> str:
    user = index % FILL_USERS
    if ids is None:
        ids = f'"userId":"fill-u{user}","anonymousId":"fill-a{user}"'
    return _TEMPLATE.format(
        type=event_type or TYPES[index % len(TYPES)], month=1 + index % 12, day=1 + index % 28,
        hour=index % 24, minute=index % 60, ids=ids, sku=index % 997,
        revenue=f"{(index % 10_000) / 100:.2f}",
    )


def actor_100_events() -> list[str]:
    anonymous = f'"anonymousId":"{ACTOR_100_ANON}"'
    both = f'"userId":"{ACTOR_100}","anonymousId":"{ACTOR_100_ANON}"'
    user = f'"userId":"{ACTOR_100}"'
    events = [event_json(i, anonymous, "Product Viewed") for i in range(40)]
    events.append(event_json(40, both, "identify"))
    events += [event_json(i, user) for i in range(41, 100)]
    return events


def batches(start: int, count: int, size: int = BATCH) -> Iterator[bytes]:
    """Bodies for POST /events holding events number start .. start+count-1 of the fill; the
    fill's first batch (start == 0) begins with ACTOR_100's 100 events."""
    index = start
    end = start + count
    while index < end:
        events: list[str] = []
        if index == 0:
            events = actor_100_events()
            index += len(events)
        take = min(size - len(events), end - index)
        events += [event_json(i) for i in range(index, index + take)]
        index += take
        yield ("[" + ",".join(events) + "]").encode()


async def _post_all(url: str, token: str, bodies: Iterator[bytes], concurrency: int) -> int:
    stored = 0
    headers = {"apiToken": token, "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal stored
            for body in bodies:  # a shared iterator: each body is posted once
                async with session.post(f"{url}/events", data=body, headers=headers) as answer:
                    text = await answer.read()
                    if answer.status != 202:
                        raise RuntimeError(f"fill: POST /events answered {answer.status}: "
                                           f"{text[:300]!r}")
                    stored += json.loads(text)["count"]

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return stored


def fill(url: str, token: str, start: int, count: int, concurrency: int = 4) -> int:
    """Store events start .. start+count-1 of the fill; return how many were stored."""
    return asyncio.run(_post_all(url, token, batches(start, count), concurrency))
