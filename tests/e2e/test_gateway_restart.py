"""Restarts: whatever the gateway answered 200 is delivered, exactly once, after a restart.

- The issue's scenario: the mock is unreachable (its port refuses connections), the official
  Python client sends, the gateway is stopped with every delivery pending, started again on
  the same outbox file, and then the mock comes up on that very port.
- A delivery the mock stored but whose answer never reached the gateway (stopped while
  waiting): sent again after the restart with the same Idempotency-Key, stored once.
- The CLI gateway killed with SIGKILL (no shutdown at all) and started again.

"Unreachable" is a socket bound to a free port but not listening (refused, not hanging); the
mock later listens on that same socket, so no other process can take the port in between.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web
from segment.analytics import Client

from connector.config import DeliveryConfig
from mockserver.http.app import create_app
from mockserver.settings import Settings
from tests.e2e.gateway_helpers import (
    SUCCESS,
    by_json,
    counts,
    event,
    gateway_stats,
    mock_events,
    mock_stats,
    post,
    refusing_socket,
    run_gateway,
    serve_event_handler,
    track,
)

REPO = Path(__file__).resolve().parents[2]
WRITE_KEY = "WK-restart"
USERS = ("u_0", "u_1", "u_2")


def patient(url: str, token: str, **overrides: Any) -> DeliveryConfig:
    """Retries (almost) forever, at most 50 ms apart: deliveries stay pending while the mock
    is down and go out within 50 ms of it coming up."""
    return DeliveryConfig(url=url, token=token, max_retries=1_000_000, backoff_base=0.01,
                          backoff_max=0.05, **overrides)


@asynccontextmanager
async def mock_listening_on(sock: socket.socket) -> AsyncIterator[str]:
    """The mock, serving on the socket that refused connections until now."""
    runner = web.AppRunner(create_app(Settings()), access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


def per_actor(events: list[dict[str, Any]]) -> dict[str, list[Any]]:
    orders: dict[str, list[Any]] = {}
    for stored in events:
        orders.setdefault(stored["actors"]["Customer"]["userId"], []).append(
            (stored["eventType"], stored["numbers"]["n"]))
    return orders


async def test_a_restart_with_deliveries_pending_delivers_every_accepted_message_once(
    token: str, http: ClientSession, tmp_path: Path
) -> None:
    outbox = str(tmp_path / "outbox.sqlite3")
    errors: list[Exception] = []
    with refusing_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with run_gateway(url, token, delivery=patient(url, token), outbox=outbox) as gw:
            client = Client(WRITE_KEY, host=gw, gzip=True, max_retries=0, upload_interval=0.1,
                            on_error=lambda error, batch: errors.append(error))
            for n in range(12):
                user = USERS[n % 3]
                if n < 3:
                    client.identify(user, {"n": n}, message_id=f"m-{n}")
                else:
                    client.track(user, "Order Completed", {"n": n}, message_id=f"m-{n}")
            await asyncio.to_thread(client.shutdown)  # every call answered
            assert errors == []
            assert await gateway_stats(http, gw) == counts(received=12, pending=12)

        async with run_gateway(url, token, delivery=patient(url, token), outbox=outbox) as gw:
            assert await gateway_stats(http, gw) == counts(received=12, pending=12)
            async with mock_listening_on(sock) as mock_url:
                assert await gateway_stats(http, gw, delivered=12) == counts(
                    received=12, delivered=12)
                stored = await mock_events(http, mock_url)
                assert len(stored) == 12
                assert per_actor(stored) == {
                    user: [("identify", a)] + [("Order Completed", n) for n in range(a + 3, 12, 3)]
                    for a, user in enumerate(USERS)}
                assert (await mock_stats(http, mock_url))["idempotentReplays"] == 0


@dataclass
class HangingProxy:
    """Forwards each request to the mock, then holds the answer until released."""

    upstream: str
    session: ClientSession
    forwarded: int = 0
    wanted: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        names = ("apiToken", "Content-Type", "Idempotency-Key")
        headers = {name: request.headers[name] for name in names if name in request.headers}
        async with self.session.post(f"{self.upstream}/event", data=body,
                                     headers=headers) as answer:
            text, status = await answer.text(), answer.status
        self.forwarded += 1
        if self.forwarded >= self.wanted:
            self.reached.set()
        await self.release.wait()
        return web.Response(status=status, text=text, content_type="application/json")


@asynccontextmanager
async def hanging_proxy(upstream: str, wanted: int) -> AsyncIterator[tuple[HangingProxy, str]]:
    async with ClientSession() as session:
        proxy = HangingProxy(upstream, session, wanted=wanted)
        async with serve_event_handler(proxy.handle) as url:
            try:
                yield proxy, url
            finally:
                proxy.release.set()


async def test_a_delivery_stored_but_never_answered_is_not_stored_twice_after_a_restart(
    mock_url: str, token: str, http: ClientSession, tmp_path: Path
) -> None:
    outbox = str(tmp_path / "outbox.sqlite3")
    messages = [track(f"m-{n}", USERS[n % 3], properties={"n": n}) for n in range(9)]
    async with hanging_proxy(mock_url, wanted=3) as (proxy, proxy_url):
        delivery = patient(proxy_url, token, timeout=60.0)
        async with run_gateway(proxy_url, token, delivery=delivery, outbox=outbox) as gw:
            assert await post(http, f"{gw}/v1/batch", {"batch": messages}) == (200, SUCCESS)
            # One actor's events go one at a time: each actor's first is stored, unanswered.
            await asyncio.wait_for(proxy.reached.wait(), 20)
            assert proxy.forwarded == 3
            assert await gateway_stats(http, gw) == counts(received=9, pending=9)
        assert len(await mock_events(http, mock_url)) == 3

    async with run_gateway(mock_url, token, outbox=outbox) as gw:
        assert await gateway_stats(http, gw, delivered=9) == counts(received=9, delivered=9)
    stored = await mock_events(http, mock_url)
    assert by_json(stored) == by_json(
        [event("Order Completed", {"userId": USERS[n % 3]}, numbers={"n": n})
         for n in range(9)])
    assert per_actor(stored) == {
        user: [("Order Completed", n) for n in range(a, 9, 3)] for a, user in enumerate(USERS)}
    assert (await mock_stats(http, mock_url))["idempotentReplays"] == 3


LISTENING = re.compile(rb"listening on (http://127\.0\.0\.1:\d+) ")


@asynccontextmanager
async def cli_gateway(
    args: list[str], log: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`segment-connector gateway ARGS --port 0` in its own process; yields it and its URL."""
    with log.open("ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "connector.cli", "gateway", "--port", "0", *args,
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=stderr)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        found = LISTENING.search(line)
        assert found, (line, log.read_text())
        yield process, found.group(1).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_the_cli_gateway_killed_with_deliveries_pending_delivers_them_once_restarted(
    mock_url: str, token: str, http: ClientSession, tmp_path: Path
) -> None:
    outbox, log = tmp_path / "outbox.sqlite3", tmp_path / "gateway.log"
    common = ["--pointillist-token", token, "--outbox", str(outbox), "--write-key", WRITE_KEY]
    with refusing_socket() as sock:
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"
        args = ["--pointillist-url", down, "--max-retries", "1000000", *common]
        async with cli_gateway(args, log) as (process, gw):
            client = Client(WRITE_KEY, host=gw, sync_mode=True)  # each call is answered
            before = datetime.now(UTC).replace(microsecond=0)
            for n, user in enumerate(("u_0", "u_1")):
                await asyncio.to_thread(client.identify, user, {"n": n}, message_id=f"i-{n}")
                await asyncio.to_thread(client.track, user, "Order Completed", {"n": n},
                                        message_id=f"t-{n}")
            after = datetime.now(UTC)
            assert await gateway_stats(http, gw) == counts(received=4, pending=4)
            process.kill()  # SIGKILL: no shutdown, no cleanup
            assert await process.wait() == -9

    async with cli_gateway(["--pointillist-url", mock_url, *common], log) as (process, gw):
        assert await gateway_stats(http, gw, delivered=4) == counts(received=4, delivered=4)
        process.terminate()
        assert await process.wait() == 0, log.read_text()  # SIGTERM: a clean stop
    stored = await mock_events(http, mock_url)
    # Client and gateway share this machine's clock: the corrected time is the call's time.
    times = [datetime.fromisoformat(e.pop("eventTime")) for e in stored]
    assert all(before <= t <= after for t in times), (before, times, after)
    assert by_json(stored) == by_json([
        {k: v for k, v in event(kind, {"userId": user}, numbers={"n": n}).items()
         if k != "eventTime"}
        for n, user in enumerate(("u_0", "u_1")) for kind in ("identify", "Order Completed")
    ])
