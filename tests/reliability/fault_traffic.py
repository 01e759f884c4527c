"""Traffic through a gateway to a faulty mock: the messages, their acceptance, the fault rules,
and what the mock stored, per actor."""

from __future__ import annotations

from typing import Any

from aiohttp import ClientSession

from tests.e2e.gateway_helpers import SUCCESS, post

Json = dict[str, Any]
T = "2026-11-28T09:00:00.000Z"
BATCH = 100  # Segment messages per POST /v1/batch


def messages(count: int, actors: int, first: int = 0) -> list[Json]:
    """Per actor: an anonymous page view, the identify that names the visitor, then orders.
    Every message carries its number `n` and its actor, which the mapping keeps."""
    out = []
    for n in range(first, first + count):
        k, step = n % actors, n // actors
        properties = {"n": n, "actor": f"actor-{k}"}
        base = {"messageId": f"m-{n}", "timestamp": T}
        if step == 0:
            out.append({**base, "type": "track", "event": "Product Viewed",
                        "anonymousId": f"a_{k}", "properties": properties})
        elif step == 1:
            out.append({**base, "type": "identify", "userId": f"u_{k}",
                        "anonymousId": f"a_{k}", "traits": properties})
        else:
            out.append({**base, "type": "track", "event": "Order Completed",
                        "userId": f"u_{k}", "properties": properties})
    return out


async def accept(http: ClientSession, gateway: str, batch: list[Json]) -> None:
    for start in range(0, len(batch), BATCH):
        body = {"batch": batch[start: start + BATCH]}
        assert await post(http, f"{gateway}/v1/batch", body) == (200, SUCCESS)


async def add_faults(http: ClientSession, mock: str, rules: list[Json]) -> None:
    for rule in rules:
        async with http.post(f"{mock}/_mock/faults", json=rule) as response:
            assert response.status == 201, await response.text()


async def mock_json(http: ClientSession, mock: str, path: str, **params: Any) -> Json:
    async with http.get(f"{mock}{path}", params=params) as response:
        assert response.status == 200
        answer: Json = await response.json()
        return answer


async def stored_numbers(http: ClientSession, mock: str) -> list[tuple[str, int]]:
    """(actor, n) of every stored event, in the order the mock stored them."""
    listed = await mock_json(http, mock, "/_mock/events", limit=10_000)
    assert listed["total"] == len(listed["events"])
    return [(e["event"]["labels"]["actor"], e["event"]["numbers"]["n"])
            for e in listed["events"]]


def per_actor(stored: list[tuple[str, int]]) -> dict[str, list[int]]:
    orders: dict[str, list[int]] = {}
    for actor, n in stored:
        orders.setdefault(actor, []).append(n)
    return orders
