"""The request guard of both servers as one table: options and request → status and error code
(issue: '*' widened more than the Host check; lax Host parsing; apiHost from an unchecked
authority; nosniff). Every row is sent as raw bytes to a real server on 127.0.0.1, and every
answer must carry X-Content-Type-Options: nosniff."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import StartMock
from tests.e2e.gateway_helpers import run_gateway

REBOUND = "rebound.example"


@dataclass(frozen=True)
class Row:
    options: str  # "plain", "any-host" (--allow-host '*'), "any-host+origin" (and --allow-origin)
    method: str
    path: str  # "{admin}" → the server's state-changing admin route, "{read}" → a read one
    host: str | None  # "{port}" → the server's port
    origin: str | None
    expected: tuple[int, str]  # status and error code ("" for a success)


OK = (200, "")
MISDIRECTED = (421, "misdirected_request")
CROSS_SITE = (403, "cross_site_request")
BAD_HOST = (400, "invalid_header")
OWN = "http://127.0.0.1:{port}"
REBOUND_HOST, REBOUND_ORIGIN = REBOUND, f"http://{REBOUND}"  # port 80, as a rebound page

MATRIX = [
    # A rebound name: refused outright by default.
    Row("plain", "POST", "{admin}", REBOUND_HOST, REBOUND_ORIGIN, MISDIRECTED),
    Row("plain", "GET", "{read}", REBOUND_HOST, None, MISDIRECTED),
    # '*' widens the Host check only: the rebound page may not change state ...
    Row("any-host", "POST", "{admin}", REBOUND_HOST, REBOUND_ORIGIN, CROSS_SITE),
    # ... though a non-browser client (no Origin) and the server's own origin may,
    Row("any-host", "POST", "{admin}", REBOUND_HOST, None, OK),
    Row("any-host", "POST", "{admin}", "127.0.0.1:{port}", OWN, OK),
    Row("any-host", "GET", "{read}", REBOUND_HOST, REBOUND_ORIGIN, OK),
    # ... and an --allow-origin names the page that may.
    Row("any-host+origin", "POST", "{admin}", REBOUND_HOST, REBOUND_ORIGIN, OK),
    Row("plain", "POST", "{admin}", "127.0.0.1:{port}", OWN, OK),
    Row("plain", "POST", "{admin}", "127.0.0.1:{port}", "http://evil.example", CROSS_SITE),
    # Host parsed as RFC 3986 host [":" port], with or without '*'.
    Row("plain", "GET", "{read}", "[::1]evil.com", None, BAD_HOST),
    Row("plain", "GET", "{read}", "localhost:1@evil.com", None, BAD_HOST),
    Row("any-host", "GET", "{read}", "[::1]evil.com", None, BAD_HOST),
    Row("any-host", "GET", "{read}", "localhost:1@evil.com", None, BAD_HOST),
    Row("plain", "GET", "{read}", "[::1", None, BAD_HOST),
    Row("plain", "GET", "{read}", "[evil.com]:80", None, BAD_HOST),
    Row("plain", "GET", "{read}", "localhost:99999", None, BAD_HOST),
    Row("plain", "GET", "{read}", "localhost:80:80", None, BAD_HOST),
    Row("plain", "GET", "{read}", "LocalHost:{port}", None, OK),
    Row("plain", "GET", "{read}", "[::1]:{port}", None, OK),
    Row("plain", "GET", "{read}", "127.0.0.1", None, OK),
    # An absolute-form target names the authority (RFC 9112): it must be served too.
    Row("plain", "GET", "http://evil.com:9{read}", "127.0.0.1:{port}", None, MISDIRECTED),
    Row("plain", "GET", "http://localhost:{port}{read}", "127.0.0.1:{port}", None, OK),
]

ROUTES = {"mock": ("/_mock/reset", "/_mock/stats"),
          "gateway": ("/_gateway/deadletter/redrive", "/_gateway/stats")}


@asynccontextmanager
async def server(kind: str, options: str, start_mock: StartMock) -> AsyncIterator[str]:
    hosts = frozenset({"*"}) if options.startswith("any-host") else frozenset()
    origins = frozenset({REBOUND_ORIGIN}) if options.endswith("origin") else frozenset()
    if kind == "mock":
        async with start_mock(allow_hosts=hosts, allow_origins=origins) as url:
            yield url
        return
    async with start_mock() as mock, run_gateway(mock, "t-guard", allow_hosts=hosts,
                                                 allow_origins=origins) as url:
        yield url


async def send(url: str, method: str, target: str, headers: dict[str, str]
               ) -> tuple[int, dict[str, str], Any]:
    """One request as bytes; status, headers (lower-cased names) and JSON body."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = [f"{method} {target} HTTP/1.1", "apiToken: t-guard", "Connection: close",
             *(f"{name}: {value}" for name, value in headers.items())]
    if method == "POST":
        lines += ["Content-Type: application/json", "Content-Length: 2"]
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n" + ("{}" if method == "POST" else ""))
                     .encode())
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {n.strip().lower(): v.strip() for n, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), parsed, json.loads(body)


def code_of(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"]["code"])
    return str(body.get("code", "")) if isinstance(body, dict) and "message" in body else ""


@pytest.mark.parametrize("kind", ["mock", "gateway"])
async def test_the_guard_matrix(kind: str, start_mock: StartMock) -> None:
    admin, read = ROUTES[kind]
    seen: list[tuple[Row, tuple[int, str], str | None]] = []
    for options in ("plain", "any-host", "any-host+origin"):
        rows = [row for row in MATRIX if row.options == options]
        async with server(kind, options, start_mock) as url:
            port = url.rsplit(":", 1)[1]
            for row in rows:
                headers = {}
                if row.host is not None:
                    headers["Host"] = row.host.format(port=port)
                if row.origin is not None:
                    headers["Origin"] = row.origin.format(port=port)
                target = row.path.format(admin=admin, read=read, port=port)
                status, answer_headers, body = await send(url, row.method, target, headers)
                seen.append((row, (status, code_of(body)),
                             answer_headers.get("x-content-type-options")))
    assert [(row, answer, nosniff) for row, answer, nosniff in seen
            if (answer, nosniff) != (row.expected, "nosniff")] == []
    assert len(seen) == len(MATRIX)


async def test_the_gateways_settings_point_back_at_the_checked_authority(
    start_mock: StartMock,
) -> None:
    async with start_mock() as mock, run_gateway(mock, "t-guard") as url:
        port = url.rsplit(":", 1)[1]
        status, headers, body = await send(url, "GET", "/v1/projects/wk/settings",
                                           {"Host": f"localhost:{port}"})
        assert (status, body["integrations"]["Segment.io"]["apiHost"]) == (
            200, f"localhost:{port}/v1")
        assert headers["x-content-type-options"] == "nosniff"
        status, _, body = await send(url, "GET", "http://evil.com:9/v1/projects/wk/settings",
                                     {"Host": f"127.0.0.1:{port}"})
        assert (status, code_of(body)) == MISDIRECTED
        status, _, body = await send(url, "GET", f"http://127.0.0.1:{port}/v1/projects/wk/"
                                     "settings", {"Host": f"localhost:{port}"})
        assert (status, body["integrations"]["Segment.io"]["apiHost"]) == (
            200, f"127.0.0.1:{port}/v1")  # the absolute form's authority (RFC 9112 3.2.2)


async def test_every_answer_of_both_servers_says_nosniff(start_mock: StartMock) -> None:
    async with start_mock() as mock, run_gateway(mock, "t-guard") as gateway:
        for url, paths in ((mock, ("/_mock/health", "/nowhere/<b>x</b>", "/_mock/dashboard/")),
                           (gateway, ("/_gateway/health", "/nowhere/<b>x</b>"))):
            for path in paths:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", int(url.rsplit(":", 1)[1]))
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
                             "\r\n\r\n".encode())
                answer = await asyncio.wait_for(reader.read(), 10)
                writer.close()
                assert b"\r\nX-Content-Type-Options: nosniff\r\n" in answer.split(
                    b"\r\n\r\n", 1)[0] + b"\r\n", (url, path)
