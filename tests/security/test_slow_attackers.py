"""A loopback attacker holding connections (trickled heads, slow bodies, idle sockets) against a
timed ordinary client, on both servers (issue: slow and idle connections lock everyone out).

The attacker connects from other loopback addresses (127.0.0.2 ...), so that the servers see
it as another client than the ordinary one (127.0.0.1). Counts are bounded (tens of
connections); the servers run with small limits so that the same attack fills them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientSession, TCPConnector

from connector.cli import build_parser as connector_parser
from connector.gateway.settings import settings_from_args as gateway_settings
from mockserver.__main__ import _parser as mock_parser
from mockserver.__main__ import settings_from_args
from mockserver.settings import Limits
from tests.conftest import StartMock
from tests.e2e.bad_inputs import VALID
from tests.e2e.gateway_helpers import run_gateway

TRACK = json.dumps({"type": "track", "event": "Order Completed", "userId": "u_1"}).encode()
MARGIN = 3.0  # seconds of slack on an upper bound (a loaded CI machine)
KINDS = pytest.mark.parametrize("kind", ["mock", "gateway"])


@dataclass
class Server:
    kind: str
    url: str
    path: str
    body: bytes
    accepted: int

    def head(self, length: int) -> bytes:
        return (f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\napiToken: t-attacker\r\n"
                f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


@asynccontextmanager
async def serving(kind: str, start_mock: StartMock, token: str, *, connections: int,
                  per_client: int, head: float, body: float = 30.0) -> AsyncIterator[Server]:
    if kind == "mock":
        limits = Limits(max_connections=connections, max_connections_per_client=per_client,
                        head_timeout_seconds=head, body_timeout_seconds=body)
        async with start_mock(limits=limits) as url:
            yield Server(kind, url, "/event", VALID, 202)
        return
    async with start_mock() as mock, run_gateway(
            mock, token, max_connections=connections, max_connections_per_client=per_client,
            head_timeout=head, body_timeout=body) as url:
        yield Server(kind, url, "/v1/track", TRACK, 200)


async def connect(url: str, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(url)
    return await asyncio.open_connection(address.hostname, address.port,
                                         local_addr=(source, 0))


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    received = b""
    with suppress(ConnectionResetError):
        while chunk := await asyncio.wait_for(reader.read(65536), MARGIN + 10):
            received += chunk
    return received


async def ordinary_requests(server: Server, token: str, count: int) -> list[float]:
    """`count` valid requests, each on a new connection from 127.0.0.1; their latencies."""
    latencies = []
    loop = asyncio.get_running_loop()
    headers = {"apiToken": token, "Content-Type": "application/json"}
    async with ClientSession(connector=TCPConnector(force_close=True)) as http:
        for _ in range(count):
            started = loop.time()
            async with http.post(server.url + server.path, data=server.body,
                                 headers=headers) as response:
                assert response.status == server.accepted, await response.text()
            latencies.append(loop.time() - started)
    return latencies


def status_and_code(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    parsed: dict[str, Any] = json.loads(body)
    error = parsed.get("error", parsed)
    return int(head.split(b" ")[1]), str(error["code"])


@KINDS
async def test_an_ordinary_client_is_served_while_one_address_holds_all_it_may(
    kind: str, start_mock: StartMock, token: str
) -> None:
    """16 slots, 8 per address: the attacker's 4 trickled heads and 4 slow bodies hold 8 slots
    (their deadlines are long here); its 20 further connections are refused; the ordinary
    client is served at once, 10 times."""
    async with serving(kind, start_mock, token, connections=16, per_client=8,
                       head=30.0) as server:
        held = []
        for n in range(8):
            reader, writer = await connect(server.url, "127.0.0.2")
            writer.write(server.head(1000)[:30] if n < 4 else server.head(1000) + b"{")
            held.append((reader, writer))
        refused = []
        for _ in range(20):
            reader, writer = await connect(server.url, "127.0.0.2")
            refused.append(await read_until_closed(reader))
            writer.close()
        latencies = await ordinary_requests(server, token, 10)
        still_open = [not reader.at_eof() for reader, _ in held]
        for _, writer in held:
            writer.close()
    assert {status_and_code(answer) for answer in refused} == {(503, "too_many_connections")}
    assert still_open == [True] * 8
    assert max(latencies) < MARGIN, latencies


@KINDS
async def test_idle_connections_are_closed_first_when_the_slots_run_out(
    kind: str, start_mock: StartMock, token: str
) -> None:
    """16 slots all held by idle connections from four addresses: an ordinary client's new
    connection closes the oldest idle one (without an answer) and is served."""
    async with serving(kind, start_mock, token, connections=16, per_client=4,
                       head=30.0) as server:
        idle = []
        for source in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
            idle += [await connect(server.url, source) for _ in range(4)]
        latencies = await ordinary_requests(server, token, 5)
        oldest = await read_until_closed(idle[0][0])
        still_open = [not reader.at_eof() for reader, _ in idle[1:]]
        for _, writer in idle:
            writer.close()
    assert oldest == b""
    assert still_open == [True] * 15  # each request freed its slot for the next one
    assert max(latencies) < MARGIN, latencies


@KINDS
async def test_a_trickled_head_is_closed_at_the_head_deadline_not_the_idle_timeout(
    kind: str, start_mock: StartMock, token: str
) -> None:
    """Idle timeout 60 s (the default), head deadline 0.5 s: ten heads trickled a byte every
    50 ms are closed without an answer after 0.5 s, and the ordinary client is served."""
    async with serving(kind, start_mock, token, connections=16, per_client=16,
                       head=0.5) as server:
        loop = asyncio.get_running_loop()

        async def trickle() -> tuple[bytes, float]:
            started = loop.time()
            reader, writer = await connect(server.url, "127.0.0.2")
            closed = asyncio.ensure_future(read_until_closed(reader))
            head = server.head(1000)
            for n in range(len(head)):  # bounded: longer than the deadline by far
                if closed.done() or writer.is_closing():
                    break
                with suppress(ConnectionError):
                    writer.write(head[n:n + 1])
                    await writer.drain()
                await asyncio.wait([closed], timeout=0.05)  # the attacker's own pace
            answer = await closed
            writer.close()
            return answer, loop.time() - started

        attacks = [asyncio.ensure_future(trickle()) for _ in range(10)]
        latencies = await ordinary_requests(server, token, 5)
        results = await asyncio.gather(*attacks)
    assert [answer for answer, _ in results] == [b""] * 10
    assert all(0.5 <= took < 0.5 + MARGIN for _, took in results), results
    assert max(latencies) < MARGIN, latencies


@KINDS
async def test_a_kept_alive_connections_next_head_has_its_own_deadline(
    kind: str, start_mock: StartMock, token: str
) -> None:
    """Head deadline 1 s: a request answered, then 0.6 s later a head trickled on the same
    connection is closed 1 s after its own first byte, not when the first head's second ends
    (the connection keeps one head timer, moved on from request to request)."""
    async with serving(kind, start_mock, token, connections=16, per_client=16,
                       head=1.0) as server:
        loop = asyncio.get_running_loop()
        reader, writer = await connect(server.url, "127.0.0.3")
        writer.write(server.head(len(server.body)) + server.body)
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), MARGIN + 10)
        assert answer.startswith(b"HTTP/1.1 %d" % server.accepted)
        await asyncio.sleep(0.6)  # time passing is what is tested: the next head starts later
        started = loop.time()
        closed = asyncio.ensure_future(read_until_closed(reader))
        for byte in server.head(1000)[:40]:  # bounded: 40 bytes at 50 ms, past the deadline
            if closed.done():
                break
            writer.write(bytes([byte]))
            await asyncio.wait([closed], timeout=0.05)
        await closed
        took = loop.time() - started
        writer.close()
    assert 1.0 <= took < 1.0 + MARGIN


def test_the_clis_set_the_head_deadline_and_the_per_client_limit() -> None:
    limits = settings_from_args(mock_parser().parse_args(
        ["serve", "--head-timeout", "2.5", "--max-connections-per-client", "3"])).limits
    assert (limits.head_timeout_seconds, limits.max_connections_per_client) == (2.5, 3)
    assert (Limits().head_timeout_seconds, Limits().max_connections_per_client) == (10.0, 64)
    base = ["gateway", "--pointillist-url", "http://127.0.0.1:8787", "--pointillist-token", "t"]
    given = gateway_settings(connector_parser().parse_args(
        [*base, "--head-timeout", "2.5", "--max-connections-per-client", "3"]))
    assert (given.head_timeout, given.max_connections_per_client) == (2.5, 3)
    defaults = gateway_settings(connector_parser().parse_args(base))
    assert (defaults.head_timeout, defaults.max_connections_per_client) == (10.0, 64)
