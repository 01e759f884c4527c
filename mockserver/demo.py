"""`pointillist-mock demo`: a mock on a free port, a few events, and what the mock saw."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import ClientSession

from .server import serving
from .settings import Settings

TOKEN = "demo-token"

DEMO_EVENTS: list[dict[str, Any]] = [
    {"eventSource": "Segment", "eventType": "Product Viewed",
     "eventTime": "2026-11-28T10:00:00.000Z", "actors": {"Customer": {"anonymousId": "anon-7"}},
     "labels": {"product": "Lamp", "campaign.source": "newsletter"}, "numbers": {"price": 49.5}},
    {"eventSource": "Segment", "eventType": "Product Added",
     "eventTime": "2026-11-28T10:01:00.000Z", "actors": {"Customer": {"anonymousId": "anon-7"}},
     "labels": {"product": "Lamp"}, "numbers": {"quantity": 1}},
    {"eventSource": "Segment", "eventType": "identify", "eventTime": "2026-11-28T10:02:00.000Z",
     "actors": {"Customer": {"userId": "user-42", "anonymousId": "anon-7"}},
     "labels": {"email": "ada@example.com", "plan": "pro"}, "numbers": {"logins": 3}},
    {"eventSource": "Segment", "eventType": "Order Completed",
     "eventTime": "2026-11-28T10:05:00.000Z", "actors": {"Customer": {"userId": "user-42"}},
     "labels": {"currency": "EUR"}, "numbers": {"revenue": 49.5}},
]


async def demo(settings: Settings, wait: bool) -> dict[str, Any]:
    async with serving(settings) as url, ClientSession(headers={"apiToken": TOKEN}) as http:
        print(f"mock listening on {url}  (token: {TOKEN})\n")
        for event in DEMO_EVENTS:
            async with http.post(f"{url}/event", json=event) as response:
                answer = await response.json()
                print(f"POST /event {event['eventType']:<16} -> {response.status} {answer['id']}")
        async with http.get(f"{url}/_mock/events") as response:
            events = await response.json()
        async with http.get(f"{url}/_mock/actor", params={"anonymousId": "anon-7"}) as response:
            actor: dict[str, Any] = await response.json()
        print(f"\nGET /_mock/events -> {events['total']} events")
        for item in events["events"]:
            print(f"  {item['eventTime']}  {item['event']['eventType']:<16} "
                  f"{json.dumps(item['event']['actors']['Customer'])}")
        print("\nGET /_mock/actor?anonymousId=anon-7 -> the stitched actor")
        print(f"  identifiers: {json.dumps(actor['identifiers'])}")
        print(f"  labels:      {json.dumps(actor['labels'])}")
        print(f"  numbers:     {json.dumps(actor['numbers'])}")
        print(f"  events:      {actor['eventCount']} (including the 2 sent before the identify)")
        if wait:
            print("\nserving until Ctrl-C", flush=True)
            await asyncio.Event().wait()
        return actor


def run_demo(wait: bool) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(demo(Settings(port=0), wait))
    return 0
