"""A destination whose answers are hostile or broken (issue: a destination's answer can break
delivery): JSON nested 100,000 deep (a RecursionError for Python's parser), a 200 MB body.
The connector reads at most a bounded prefix of an answer, parses it defensively, and an
unreadable answer counts for its status like any other; a body the connection cuts short stays
a transport failure, retried. `send` (a real process) and the gateway (a real server) deliver
through a real loopback destination."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, web

from tests.e2e.gateway_helpers import ZERO, gateway_stats, run_gateway
from tests.helpers.paths import ROOT

DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE = 200 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)
T = "2026-03-01T10:00:00.000Z"
# event name → the answers to its attempts, in order ("huge": 200 with a 200 MB body)
SCRIPT = {
    "Deep OK": [(200, DEEP)],
    "Deep Error": [(500, DEEP), (202, b'{"accepted": 1}')],
    "Huge OK": [(200, b"huge")],
    "Huge Error": [(503, b"huge"), (202, b"")],
    "Cut OK": [(200, b"cut"), (202, b"")],  # a cut connection: a transport error, retried
}


class Destination:
    """A real server on 127.0.0.1 answering POST /event per SCRIPT."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.huge_written: list[int] = []  # bytes of each huge body written before the close
        self.huge_done = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = str((await request.json())["eventType"])
        self.attempts[name] += 1
        steps = SCRIPT[name]
        status, body = steps[min(self.attempts[name], len(steps)) - 1]
        if body == b"huge":
            return await self._huge(request, status)
        if body == b"cut":  # a Content-Length never reached: the connection closes mid-body
            response = web.StreamResponse(status=status, headers={"Content-Length": "1000"})
            await response.prepare(request)
            await response.write(b'{"duplicate": tr')
            assert request.transport is not None
            request.transport.close()
            return response
        return web.Response(status=status, body=body, content_type="application/json")

    async def _huge(self, request: web.Request, status: int) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Length": str(HUGE)})
        await response.prepare(request)
        written = 0
        try:
            while written < HUGE:
                await response.write(CHUNK)
                written += len(CHUNK)
        except (ConnectionError, RuntimeError):  # the client closed: it read what it wanted
            pass
        self.huge_written.append(written)
        if len(self.huge_written) == sum(1 for n in SCRIPT if n.startswith("Huge")):
            self.huge_done.set()
        return response


@pytest.fixture
async def destination() -> AsyncIterator[Destination]:
    served = Destination()
    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/event", served.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    served.url = f"http://127.0.0.1:{port}"
    try:
        yield served
    finally:
        await runner.cleanup()


async def run_send(*args: str) -> tuple[int, list[str], list[str]]:
    """`segment-connector send` as a real process: exit status, stdout and stderr lines."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "connector.cli", "send", *args, cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines(), err.decode().splitlines()


def track(name: str, n: int) -> dict[str, object]:
    return {"type": "track", "event": name, "userId": f"u{n}", "timestamp": T,
            "messageId": f"m{n}"}


async def assert_huge_bodies_were_not_read(destination: Destination) -> None:
    await asyncio.wait_for(destination.huge_done.wait(), 30)
    # What the client did not read stays in socket buffers (a few MB at most), never 200 MB.
    assert all(written < 64 * len(CHUNK) for written in destination.huge_written), \
        destination.huge_written


async def test_send_delivers_through_unreadable_answers_and_exits_0(
    tmp_path: Path, destination: Destination
) -> None:
    file = tmp_path / "traffic.jsonl"
    file.write_text("".join(json.dumps(track(name, n)) + "\n"
                            for n, name in enumerate(SCRIPT)))
    status, out, err = await run_send(str(file), "--url", destination.url, "--token", "t",
                                      "--concurrency", "1")
    assert (status, out) == (0, [
        "outcome  reason messages",
        "sent                   5",
        "skipped                0",
        "failed                 0",
        "total                  5",
        "8 requests, 3 retries, 0 idempotent replays",
    ]), err
    assert not [line for line in err if "Traceback" in line or "Recursion" in line]
    assert destination.attempts == {name: len(steps) for name, steps in SCRIPT.items()}
    await assert_huge_bodies_were_not_read(destination)


async def test_the_gateway_delivers_through_unreadable_answers(
    destination: Destination, token: str
) -> None:
    async with run_gateway(destination.url, token) as gateway, ClientSession() as http:
        for n, name in enumerate(SCRIPT):
            async with http.post(f"{gateway}/v1/track", json=track(name, n),
                                 headers={"Authorization": "Basic d2s6"}) as response:
                assert response.status == 200, await response.text()
        stats = await gateway_stats(http, gateway, delivered=5)
    assert {key: stats[key] for key in ZERO} == {**ZERO, "received": 5, "delivered": 5}
    assert destination.attempts == {name: len(steps) for name, steps in SCRIPT.items()}
    await assert_huge_bodies_were_not_read(destination)
