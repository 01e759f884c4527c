"""Flaky: a real server on 127.0.0.1 that follows a per-event script (answer 503, 429 with
Retry-After, close the connection, hang, answer 400 ...) and otherwise forwards the request to the
live mock; and the delivery client and items the tests drive through it. Its fixtures (`flaky`,
`session`) are in conftest.py."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

from connector.client import Delivery, DeliveryClient, DeliveryConfig
from tests.conftest import make_event

SEED = 7
NOW = 1_800_000_000.0  # the injected wall clock, for Retry-After dates


def item(n: int, actor: str, key: str | None = "auto", **overrides: Any) -> Delivery:
    """Event number `n` of `actor`; its label `n` lets servers and tests recognise it."""
    event = make_event(actors={"Customer": {"userId": actor}}, labels={"n": str(n)}, **overrides)
    return Delivery(event, f"m-{n}" if key == "auto" else key, actor)


class Sleeps:
    """An injected `sleep` that records the delays and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)  # a yield to the loop, not a wait


@dataclass(frozen=True)
class Reply:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


DROP = "drop"  # close the connection without answering
STORE_THEN_DROP = "store-then-drop"  # forward (so the mock stores it), then close unanswered
HANG = "hang"  # answer nothing until the test ends
Step = Reply | str


class Flaky:
    """A real server on an ephemeral port: scripted misbehaviour, then forwarding to the mock."""

    def __init__(self, upstream: str, forward: ClientSession) -> None:
        self.upstream = upstream
        self.forward = forward
        self.url = ""
        self.scripts: dict[str, list[Step]] = {}  # label n → steps, one per attempt
        self.attempts: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []
        self.stored: list[tuple[str, str]] = []  # (actor, n) in the order the mock took them
        self.ports: set[int] = set()
        self.inflight = 0
        self.max_inflight = 0
        self.actor_inflight: Counter[str] = Counter()
        self.max_actor_inflight = 0
        self.gate_at: int | None = None  # hold requests until this many are in flight
        self.gate = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        event = json.loads(body)
        n, actor = event["labels"]["n"], event["actors"]["Customer"]["userId"]
        self.attempts[n] += 1
        self.headers.append(dict(request.headers))
        self.ports.add(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        self.inflight += 1
        self.actor_inflight[actor] += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        self.max_actor_inflight = max(self.max_actor_inflight, self.actor_inflight[actor])
        try:
            if self.gate_at is not None:
                if self.inflight >= self.gate_at:
                    self.gate.set()
                await self.gate.wait()
            script = self.scripts.get(n, [])
            step = script[self.attempts[n] - 1] if self.attempts[n] <= len(script) else "forward"
            if isinstance(step, Reply):
                return web.Response(status=step.status, text=step.body, headers=step.headers)
            if step == DROP:
                request.transport.close()  # type: ignore[union-attr]
                return web.Response(status=204)
            if step == HANG:
                await self.release.wait()
                return web.Response(status=503)
            answer = await self._forward(request, body, actor, n)
            if step == STORE_THEN_DROP:
                request.transport.close()  # type: ignore[union-attr]
            return answer
        finally:
            self.inflight -= 1
            self.actor_inflight[actor] -= 1

    async def _forward(self, request: web.Request, body: bytes, actor: str, n: str) -> web.Response:
        names = ("apiToken", "Content-Type", "Idempotency-Key")
        headers = {name: request.headers[name] for name in names if name in request.headers}
        async with self.forward.post(f"{self.upstream}/event", data=body, headers=headers) as up:
            text = await up.text()
            if up.status == 202:
                self.stored.append((actor, n))
            return web.Response(status=up.status, text=text, content_type="application/json")


def make_client(
    session: ClientSession, url: str, token: str, sleeps: Sleeps | None = None, **config: Any
) -> DeliveryClient:
    return DeliveryClient(
        session, DeliveryConfig(url=url, token=token, **config),
        sleep=sleeps or Sleeps(), rng=random.Random(SEED), clock=lambda: NOW,
    )


async def stored(http: ClientSession, mock_url: str) -> list[tuple[str, str]]:
    """(actor, n) of every event the mock holds for this token, in arrival order."""
    async with http.get(f"{mock_url}/_mock/events", params={"limit": "10000"}) as response:
        assert response.status == 200
        listed = await response.json()
    return [(e["event"]["actors"]["Customer"]["userId"], e["event"]["labels"]["n"])
            for e in listed["events"]]
