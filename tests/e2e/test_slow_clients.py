"""Slow and greedy clients: bounded waits, closed connections, the server serving others.

Each server runs with short limits so that the waits are short: the idle/header timeout
(`idle_timeout_seconds` / `idle_timeout`), the body timeout (`body_timeout_seconds` /
`body_timeout`) and the connection limit (`max_connections`).

- A request head trickled byte by byte (slowloris), or never sent, is closed without an answer
  once the idle timeout has passed since the connection opened; so is an idle keep-alive one.
- A body that stops arriving (an unfinished chunked body, a Content-Length never reached, a drip)
  is answered 408 request_timeout once the body timeout has passed, then the connection closes.
- One connection over the limit is answered 503 too_many_connections and closed; a slot freed
  is a slot usable.
- Meanwhile every other client is served.

Times are measured on the client, from just before it connects. "Bounded" is checked with a
generous margin (MARGIN) so that a loaded CI machine does not fail it; the lower bounds show
that it is the configured timeout, and not something else, that closes the connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientSession

from connector.cli import build_parser as connector_parser
from connector.errors import ConfigError
from connector.gateway.serving import DRAIN_SECONDS as GATEWAY_DRAIN
from connector.gateway.settings import settings_from_args as gateway_settings_from_args
from mockserver.__main__ import _parser as mock_parser
from mockserver.__main__ import settings_from_args
from mockserver.http.server import DRAIN_SECONDS as MOCK_DRAIN
from mockserver.settings import Limits
from tests.conftest import StartMock
from tests.e2e.bad_input_checks import get_json
from tests.e2e.bad_inputs import VALID
from tests.e2e.gateway_helpers import ZERO, gateway_stats, mock_events, run_gateway
from tests.e2e.scripted_server import (  # the scripted server (its fixtures: conftest.py)
    Flaky,
    Reply,
    Sleeps,
    item,
    make_client,
    stored,
)

IDLE = 0.3  # seconds: the idle/header timeout of the servers under test
BODY = 0.3  # seconds: their body timeout
MARGIN = 3.0  # seconds of slack on every upper bound
# Where a test shows another client served *while* a slow one is still connected, the slow one
# gets this long, so that a loaded machine cannot finish the attack before the valid request.
MEANWHILE = 1.5
DRIP_EVERY = 0.02  # seconds between two bytes of a slow client
TRACK = json.dumps({"type": "track", "event": "Order Completed", "userId": "u_1"}).encode()
assert MOCK_DRAIN == GATEWAY_DRAIN == 2.0  # drained at most min(2 s, body timeout) after a 408


@dataclass
class Server:
    """One server under test: where to send, what a valid request is, and how to check it."""

    kind: str  # "mock" or "gateway"
    url: str
    path: str  # the ingest route
    body: bytes  # a valid body for it
    accepted: int  # its success status
    mock: str  # the mock behind (the server itself for "mock")

    def head(self, token: str, extra: str = "") -> bytes:
        """A whole request head: `extra` is more header lines, each ending in CRLF."""
        return (f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\napiToken: {token}\r\n"
                f"Content-Type: application/json\r\n{extra}\r\n").encode()

    def request(self, token: str, extra: str = "") -> bytes:
        """A whole valid request."""
        return self.head(token, f"Content-Length: {len(self.body)}\r\n{extra}") + self.body

    def head_without_end(self, token: str) -> bytes:
        """A head whose last header line never ends (the slowloris keeps adding to it)."""
        return self.head(token)[:-2] + b"X-Slowloris: "


@asynccontextmanager
async def serving(kind: str, start_mock: StartMock, token: str, **limits: Any
                  ) -> AsyncIterator[Server]:
    """A mock, or a gateway delivering to a mock, with the given limits (mock names)."""
    idle = limits.pop("idle", IDLE)
    body = limits.pop("body", BODY)
    connections = limits.pop("connections", 256)
    if kind == "mock":
        mock_limits = Limits(idle_timeout_seconds=idle, body_timeout_seconds=body,
                             max_connections=connections)
        async with start_mock(limits=mock_limits) as url:
            yield Server(kind, url, "/event", VALID, 202, url)
        return
    async with start_mock() as mock, run_gateway(
            mock, token, idle_timeout=idle, body_timeout=body,
            max_connections=connections) as url:
        yield Server(kind, url, "/v1/track", TRACK, 200, mock)


KINDS = pytest.mark.parametrize("kind", ["mock", "gateway"])


async def connect(url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(url)
    return await asyncio.open_connection(address.hostname, address.port)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (a FIN or a reset); bounded
    by the test's own guard, never by a guess of the server's timing."""
    received = b""
    with suppress(ConnectionResetError):
        while chunk := await asyncio.wait_for(reader.read(65536), MARGIN + 10):
            received += chunk
    return received


async def drip(writer: asyncio.StreamWriter, start: bytes, cycle: bytes) -> None:
    """Write `start`, then `cycle` over and over, one byte at a time DRIP_EVERY seconds apart,
    until the server closes the connection."""
    writer.write(start)
    index = 0
    with suppress(ConnectionError):
        while not writer.is_closing():
            writer.write(cycle[index % len(cycle):][:1])
            await writer.drain()
            index += 1
            await asyncio.sleep(DRIP_EVERY)  # the slow client's own pace, not a wait on the server


async def valid_request(server: Server, token: str) -> int:
    async with ClientSession() as http, http.post(
            server.url + server.path, data=server.body,
            headers={"apiToken": token, "Content-Type": "application/json"}) as response:
        return response.status


def split_response(data: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert int(headers["content-length"]) == len(body)
    return int(status_line.split(" ")[1]), headers, json.loads(body)


async def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await action()
    return result, loop.time() - started


# -- slow or missing request heads --------------------------------------------------------------


@KINDS
async def test_a_head_trickled_byte_by_byte_is_closed_unanswered_and_others_are_served(
    kind: str, start_mock: StartMock, token: str
) -> None:
    async with serving(kind, start_mock, token, idle=MEANWHILE) as server:

        async def slowloris() -> bytes:
            reader, writer = await connect(server.url)
            dripping = asyncio.create_task(drip(writer, server.head_without_end(token), b"a"))
            try:
                return await read_until_closed(reader)
            finally:
                dripping.cancel()
                writer.close()

        attack = asyncio.create_task(timed(slowloris))
        served = await valid_request(server, token)
        assert not attack.done()  # served while the slow head was still coming
        received, elapsed = await attack

    assert served == server.accepted
    assert received == b""  # closed without a byte of an answer
    assert MEANWHILE * 0.9 <= elapsed < MEANWHILE + MARGIN


@KINDS
async def test_twenty_slow_heads_at_once_are_all_closed_and_do_not_block_a_valid_request(
    kind: str, start_mock: StartMock, token: str
) -> None:
    async with serving(kind, start_mock, token) as server:

        async def slowloris() -> tuple[bytes, float]:
            async def one() -> bytes:
                reader, writer = await connect(server.url)
                dripping = asyncio.create_task(drip(writer, server.head_without_end(token), b"a"))
                try:
                    return await read_until_closed(reader)
                finally:
                    dripping.cancel()
                    writer.close()

            result: tuple[bytes, float] = await timed(one)
            return result

        attacks = [asyncio.create_task(slowloris()) for _ in range(20)]
        status = await valid_request(server, token)
        results = await asyncio.gather(*attacks)
        if server.kind == "mock":
            stats = await _mock_stats(server, token)
            assert (stats["events"], stats["rejected"]) == (1, 0)

    assert status == server.accepted
    assert [received for received, _ in results] == [b""] * 20
    assert all(IDLE * 0.9 <= elapsed < IDLE + MARGIN for _, elapsed in results)


@KINDS
async def test_a_connection_that_never_sends_a_head_is_closed(
    kind: str, start_mock: StartMock, token: str
) -> None:
    async with serving(kind, start_mock, token) as server:

        async def silent() -> bytes:
            reader, writer = await connect(server.url)
            try:
                return await read_until_closed(reader)
            finally:
                writer.close()

        received, elapsed = await timed(silent)
    assert received == b""
    assert IDLE * 0.9 <= elapsed < IDLE + MARGIN


@KINDS
async def test_an_idle_keep_alive_connection_is_closed_after_its_answer(
    kind: str, start_mock: StartMock, token: str
) -> None:
    async with serving(kind, start_mock, token) as server:
        reader, writer = await connect(server.url)
        try:
            writer.write(server.request(token))

            async def answer_then_close() -> bytes:
                return await read_until_closed(reader)

            received, elapsed = await timed(answer_then_close)
        finally:
            writer.close()
    status, headers, _ = split_response(received)
    assert status == server.accepted
    assert headers.get("connection", "keep-alive").lower() != "close"  # kept alive, then idle
    assert IDLE * 0.9 <= elapsed < IDLE + MARGIN


async def test_a_server_side_wait_longer_than_the_idle_timeout_is_answered(
    start_mock: StartMock, token: str, http: ClientSession
) -> None:
    """The idle timeout is for connections with nothing in progress: a min_count wait of twice
    its length still gets its answer."""
    async with serving("mock", start_mock, token) as server:
        url = f"{server.url}/_mock/events?min_count=1&timeout={IDLE * 2}"
        answer, elapsed = await timed(lambda: get_json(http, url))
    assert (answer["minCountReached"], answer["total"]) == (False, 0)
    assert IDLE * 2 * 0.9 <= elapsed < IDLE * 2 + MARGIN


# -- bodies that stop arriving ------------------------------------------------------------------

# (extra header, bytes sent at once, bytes then repeated one at a time forever or None)
UNFINISHED = {
    "chunked-one-chunk-then-nothing": ("Transfer-Encoding: chunked\r\n", b'5\r\n{"eve\r\n', None),
    "chunked-dripped-forever": ("Transfer-Encoding: chunked\r\n", b"", b"1\r\n \r\n"),
    "content-length-never-reached": ("Content-Length: 1000\r\n", VALID[:10], None),
    "content-length-dripped": ("Content-Length: 30000\r\n", b"{", b" "),
}


@KINDS
@pytest.mark.parametrize(("extra", "sent", "dripped"), UNFINISHED.values(), ids=UNFINISHED.keys())
async def test_a_body_that_stops_arriving_is_a_408_then_a_closed_connection(
    kind: str, extra: str, sent: bytes, dripped: bytes | None, start_mock: StartMock, token: str,
    http: ClientSession
) -> None:
    async with serving(kind, start_mock, token) as server:

        async def unfinished() -> bytes:
            reader, writer = await connect(server.url)
            writer.write(server.head(token, extra))
            dripping = None
            if dripped is None:
                writer.write(sent)
            else:
                dripping = asyncio.create_task(drip(writer, sent, dripped))
            try:
                return await read_until_closed(reader)
            finally:
                if dripping is not None:
                    dripping.cancel()
                writer.close()

        attack = asyncio.create_task(timed(unfinished))
        assert await valid_request(server, token) == server.accepted
        received, elapsed = await attack

        status, headers, body = split_response(received)
        assert (status, headers.get("connection", "").lower()) == (408, "close"), received
        message = f"the body did not arrive within {BODY:g} seconds; the connection is closed"
        if server.kind == "mock":
            assert body == {"error": {"code": "request_timeout", "message": message,
                                      "details": {"limitSeconds": BODY}}}
            stats = await _mock_stats(server, token)
            assert (stats["events"], stats["rejected"]) == (1, 1)
            rejected = (await get_json(http, f"{server.url}/_mock/rejected"))["rejected"]
            assert [(r["status"], r["code"], r["path"]) for r in rejected] == [
                (408, "request_timeout", "/event")]
        else:
            assert body == {"code": "request_timeout", "message": message}
            assert await gateway_stats(http, server.url, delivered=1) == {
                **ZERO, "received": 1, "delivered": 1}
            assert len(await mock_events(http, server.mock)) == 1
    # Answered after the body timeout, closed at most min(2 s, body timeout) later.
    assert BODY * 0.9 <= elapsed < BODY + min(MOCK_DRAIN, BODY) + MARGIN


async def test_the_connectors_client_retries_a_408_and_stores_the_event_once(
    flaky: Flaky, token: str, http: ClientSession, mock_url: str,
    session: ClientSession,
) -> None:
    """A 408 means the server stopped waiting for a body that stalled on its way: the delivery
    client sends the event again (same Idempotency-Key), and it is stored once."""
    timeout = Reply(408, json.dumps({"error": {"code": "request_timeout", "message": "late",
                                               "details": {"limitSeconds": 30}}}))
    flaky.scripts["0"] = [timeout]
    sleeps = Sleeps()
    result = await make_client(session, flaky.url, token, sleeps).deliver([item(0, "u_0")])
    assert (result.sent, result.failed, result.attempts, result.retries) == (1, 0, 2, 1)
    assert len(sleeps.calls) == 1
    assert await stored(http, mock_url) == [("u_0", "0")]


# -- the connection limit -----------------------------------------------------------------------


@KINDS
async def test_one_connection_over_the_limit_is_a_503_and_a_freed_slot_is_usable(
    kind: str, start_mock: StartMock, token: str
) -> None:
    # Each held connection is busy (its request head begun), so none can be closed to make room.
    async with serving(kind, start_mock, token, connections=3, idle=30.0) as server:
        request = server.request(token, "Connection: close\r\n")
        held = [await connect(server.url) for _ in range(3)]
        for _, held_writer in held:
            held_writer.write(request[:20])
        try:
            # Its connection_made runs loop turns after the held heads' bytes were read.
            reader, writer = await connect(server.url)
            refused = await read_until_closed(reader)
            writer.close()

            # One held connection ends its request, which closes it (the server closes, so its
            # slot is free before the client even reads the end of the answer).
            reader, writer = held.pop()
            writer.write(request[20:])
            status, _, _ = split_response(await read_until_closed(reader))
            writer.close()
            assert status == server.accepted
            assert await valid_request(server, token) == server.accepted
        finally:
            for _, held_writer in held:
                held_writer.close()

    status, headers, body = split_response(refused)
    assert (status, headers["connection"], headers["retry-after"]) == (503, "close", "1")
    server_name = "mock" if kind == "mock" else "gateway"
    message = (f"the {server_name} already has 3 connections open (its --max-connections "
               "limit); retry once one closes")
    if kind == "mock":
        assert body == {"error": {"code": "too_many_connections", "message": message,
                                  "details": {"limitConnections": 3}}}
    else:
        assert body == {"code": "too_many_connections", "message": message}


async def test_refused_connections_never_reach_the_app(
    start_mock: StartMock, token: str, http: ClientSession
) -> None:
    async with serving("mock", start_mock, token, connections=1, idle=30.0) as server:
        reader, writer = await connect(server.url)  # the one slot, busy: a head begun
        writer.write(b"GET /_mock/health HTTP/1.1\r\n")
        answers = []
        for _ in range(5):
            refused_reader, refused_writer = await connect(server.url)
            refused_writer.write(server.request(token))
            answers.append(split_response(await read_until_closed(refused_reader))[0])
            refused_writer.close()
        # The slot holder asks for health and for the connection to close: the server closes
        # it, so the slot is free before the answer's end reaches us.
        writer.write(b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        health = split_response(await read_until_closed(reader))
        writer.close()
        assert answers == [503] * 5
        assert (health[0], health[2]) == (200, {"status": "ok"})
        stats = await get_json(http, f"{server.url}/_mock/stats")
    assert (stats["events"], stats["rejected"]) == (0, 0)


async def _mock_stats(server: Server, token: str) -> dict[str, Any]:
    async with ClientSession(headers={"apiToken": token}) as http:
        return dict(await get_json(http, f"{server.mock}/_mock/stats"))


# -- the command lines ---------------------------------------------------------------------------


def test_the_mock_cli_sets_every_limit_and_refuses_nonsense() -> None:
    parser = mock_parser()
    defaults = settings_from_args(parser.parse_args(["serve"])).limits
    assert defaults == Limits()
    assert (defaults.max_connections, defaults.idle_timeout_seconds,
            defaults.body_timeout_seconds, defaults.max_decompressed_bytes) == (
        256, 60.0, 30.0, 1024 * 1024)
    given = settings_from_args(parser.parse_args([
        "serve", "--max-connections", "7", "--idle-timeout", "1.5", "--body-timeout", "2.5",
        "--max-decompressed-bytes", "2048", "--max-body-bytes", "1024",
        "--max-batch-events", "3", "--max-wait-seconds", "4"])).limits
    assert given == replace(Limits(), max_connections=7, idle_timeout_seconds=1.5,
                            body_timeout_seconds=2.5, max_decompressed_bytes=2048,
                            max_body_bytes=1024, max_batch_events=3, max_wait_seconds=4.0)
    for flag, value in [("--max-connections", "0"), ("--idle-timeout", "-1"),
                        ("--body-timeout", "inf"), ("--max-decompressed-bytes", "lots")]:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args(["serve", flag, value])
        assert exit_info.value.code == 2


def test_the_gateway_cli_sets_its_connection_limits_and_refuses_nonsense() -> None:
    parser = connector_parser()
    base = ["gateway", "--pointillist-url", "http://127.0.0.1:8787", "--pointillist-token", "t"]
    defaults = gateway_settings_from_args(parser.parse_args(base))
    assert (defaults.max_connections, defaults.idle_timeout, defaults.body_timeout) == (
        256, 60.0, 30.0)
    given = gateway_settings_from_args(parser.parse_args(
        [*base, "--max-connections", "7", "--idle-timeout", "1.5", "--body-timeout", "2.5"]))
    assert (given.max_connections, given.idle_timeout, given.body_timeout) == (7, 1.5, 2.5)
    for flag, value in [("--max-connections", "0"), ("--idle-timeout", "0"),
                        ("--body-timeout", "nan")]:
        with pytest.raises(SystemExit):  # refused by the parser, before any settings
            parser.parse_args([*base, flag, value])
    for field, value, problem in [
        ("max_connections", 0, "max_connections must be an integer >= 1, not 0"),
        ("idle_timeout", 0.0, "idle_timeout must be a finite number of seconds > 0, not 0.0"),
    ]:
        with pytest.raises(ConfigError) as error:
            replace(defaults, **{field: value})
        assert str(error.value) == problem
