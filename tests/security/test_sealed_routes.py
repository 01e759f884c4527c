"""Both servers against hostile headers and pages: every header byte sequence gets a 4xx JSON
error on every route, Host names are checked (DNS rebinding), and admin routes refuse other
sites' requests, ?token= on state changes and non-JSON bodies, while ingest stays open."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from connector.gateway.admin import ENGAGE_ROUTES, PLAN_ROUTES, admin_routes
from connector.gateway.tracking import ROUTES as TRACKING_ROUTES
from mockserver.http.routes import PAGES, ROUTES
from tests.conftest import StartMock, make_event
from tests.e2e.gateway_helpers import run_gateway

# Header values no UTF-8 decoder takes: a lone continuation byte, a truncated sequence, an
# overlong form, an encoded surrogate, bytes that are never UTF-8, Latin-1 text.
BAD_BYTES = [b"\x80", b"a\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xff\xfe", b"caf\xe9"]
HEADERS = ["apiToken", "Authorization", "Idempotency-Key", "Origin", "Host", "Content-Type",
           "User-Agent", "X-Anything"]


def mock_routes() -> list[tuple[str, str]]:
    return sorted({(r.method, r.path) for r in [*ROUTES, *PAGES]
                   if r.method != "HEAD"})  # type: ignore[attr-defined]


def gateway_routes() -> list[tuple[str, str]]:
    admin = [(r.method, r.path.replace("{message_id}", "m1"))  # type: ignore[attr-defined]
             for r in [*admin_routes(True), *PLAN_ROUTES, *ENGAGE_ROUTES]]
    return sorted({*admin, *(("POST", f"/v1/{route}") for route in TRACKING_ROUTES)})


async def raw(url: str, head: bytes, body: bytes = b"") -> tuple[int, Any]:
    """Send one request as bytes; the status and the JSON body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                     + body)
        async with asyncio.timeout(10):
            answer = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, payload = rest.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in headers.lower(), answer[:300]
    return int(status_line.split()[1]), json.loads(payload)


def request_head(method: str, path: str, host: bytes, header: str, value: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode()]
    if header != "Host":
        lines.append(b"Host: " + host)
    if header not in ("apiToken", "Authorization"):
        lines.append(b"apiToken: t-corpus")
    lines.append(header.encode() + b": " + value)
    return b"\r\n".join(lines) + b"\r\n"


@pytest.fixture
async def servers(start_mock: StartMock, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    # With a file store: an Idempotency-Key reaches the journal there.
    async with start_mock(db=str(tmp_path / "mock.db")) as mock_url, \
            run_gateway(mock_url, "t-corpus") as gateway_url:
        yield mock_url, gateway_url


async def test_every_invalid_header_byte_sequence_is_a_400_on_every_route_of_both_servers(
    servers: tuple[str, str],
) -> None:
    mock_url, gateway_url = servers
    body = json.dumps(make_event()).encode()
    seen = 0
    for url, routes in ((mock_url, mock_routes()), (gateway_url, gateway_routes())):
        host = url.removeprefix("http://").encode()
        for method, path in routes:
            for header in HEADERS:
                for value in BAD_BYTES:
                    head = request_head(method, path, host, header, value)
                    status, answer = await raw(url, head, body if method == "POST" else b"")
                    code = answer.get("code") or answer["error"]["code"]
                    assert (status, code) == (400, "invalid_header"), (url, method, path,
                                                                      header, value)
                    seen += 1
    assert seen == (len(mock_routes()) + len(gateway_routes())) * len(HEADERS) * len(BAD_BYTES)
    async with ClientSession(headers={"apiToken": "t-corpus"}) as http, \
            http.get(f"{mock_url}/_mock/stats") as response:
        assert (await response.json())["events"] == 0  # nothing got through


@pytest.mark.parametrize("server", ["mock", "gateway"])
async def test_a_host_name_the_server_does_not_serve_is_refused_421(
    servers: tuple[str, str], server: str, http: ClientSession,
) -> None:
    url = servers[0] if server == "mock" else servers[1]
    port = url.rsplit(":", 1)[1]
    paths = ["/_mock/health", "/event"] if server == "mock" else ["/_gateway/health",
                                                                    "/v1/track"]
    for path in paths:
        method = "POST" if path in ("/event", "/v1/track") else "GET"
        for host in (f"rebound.attacker.example:{port}", "attacker.example", "127.0.0.2"):
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n".encode()
            status, answer = await raw(url, head, b"{}" if method == "POST" else b"")
            code = answer.get("code") or answer["error"]["code"]
            assert (status, code) == (421, "misdirected_request"), (path, host)
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"):
        head = f"GET {paths[0]} HTTP/1.1\r\nHost: {host}\r\n".encode()
        assert (await raw(url, head))[0] == 200, host


async def test_allow_host_adds_a_name(start_mock: StartMock) -> None:
    async with start_mock(allow_hosts=frozenset({"mock.internal"})) as url:
        head = b"GET /_mock/health HTTP/1.1\r\nHost: mock.internal:8787\r\n"
        assert await raw(url, head) == (200, {"status": "ok"})
        head = b"GET /_mock/health HTTP/1.1\r\nHost: other.internal\r\n"
        assert (await raw(url, head))[0] == 421


async def test_admin_routes_refuse_other_sites_while_ingest_stays_open(
    mock_url: str, http: ClientSession, token: str,
) -> None:
    async with http.post(f"{mock_url}/event", json=make_event(),
                         headers={"Origin": "http://evil.example",
                                  "Sec-Fetch-Site": "cross-site"}) as response:
        assert response.status == 202  # ingest: open to cross-origin posts on purpose
    refused = [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of the same host is another origin
        {"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"},
    ]
    for headers in refused:
        for method, path in (("POST", "/_mock/reset"), ("GET", "/_mock/events"),
                             ("DELETE", "/_mock/faults")):
            async with http.request(method, f"{mock_url}{path}", headers=headers) as response:
                assert response.status == 403, (headers, path)
                assert (await response.json())["error"]["code"] == "cross_site_request"
    own = mock_url
    async with http.get(f"{mock_url}/_mock/stats",
                        headers={"Origin": own, "Sec-Fetch-Site": "same-origin"}) as response:
        assert (response.status, (await response.json())["events"]) == (200, 1)


async def test_state_changes_take_the_token_only_from_a_header_and_bodies_only_as_json(
    mock_url: str, token: str,
) -> None:
    async with ClientSession() as anonymous:
        await anonymous.post(f"{mock_url}/event", json=make_event(), headers={"apiToken": token})
        for method, path in (("POST", "/_mock/reset"), ("DELETE", "/_mock/faults"),
                             ("POST", "/_mock/faults")):
            async with anonymous.request(method, f"{mock_url}{path}?token={token}",
                                         json={"kind": "status", "status": 503}) as response:
                assert response.status == 401, path
                assert "only from the apiToken header" in (await response.json())["error"][
                    "message"]
        async with anonymous.get(f"{mock_url}/_mock/stats?token={token}") as response:
            assert (response.status, (await response.json())["events"]) == (200, 1)  # GETs may
        for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {"apiToken": token}
            if content_type:
                headers["Content-Type"] = content_type
            body = b'{"kind": "status", "status": 503}'
            # Without a Content-Type, aiohttp labels bytes application/octet-stream.
            async with anonymous.post(f"{mock_url}/_mock/faults", data=body,
                                      headers=headers) as response:
                assert response.status == 415, content_type
            async with anonymous.post(f"{mock_url}/_mock/reset", data=b"x=1",
                                      headers=headers) as response:
                assert response.status == 415
        async with anonymous.get(f"{mock_url}/_mock/faults", headers={"apiToken": token}) as r:
            assert (await r.json())["rules"] == []
        async with anonymous.get(f"{mock_url}/_mock/stats", headers={"apiToken": token}) as r:
            assert (await r.json())["events"] == 1  # nothing reset


async def test_allow_origin_lets_that_page_in(start_mock: StartMock, http: ClientSession) -> None:
    """An allowed page may call the admin routes and read the answers: its JSON POST's
    preflight is answered and every answer carries its origin; another page gets neither."""
    allowed, other = "http://localhost:3000", "http://localhost:3001"
    async with start_mock(allow_origins=frozenset({allowed})) as url:
        headers = {"Origin": allowed, "Sec-Fetch-Site": "same-site"}
        async with http.post(f"{url}/_mock/reset", headers=headers) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == allowed
        preflight = {"Origin": allowed, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "apitoken,content-type"}
        async with http.options(f"{url}/_mock/faults", headers=preflight) as response:
            assert response.status == 204
            assert {name: response.headers[name] for name in (
                "Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Vary")} == {
                "Access-Control-Allow-Origin": allowed,
                "Access-Control-Allow-Methods": "GET, POST, DELETE",
                "Access-Control-Allow-Headers":
                    "apiToken, Authorization, Content-Type, Idempotency-Key",
                "Access-Control-Max-Age": "600", "Vary": "Origin"}
        rule = {"kind": "status", "status": 503, "times": 1}
        async with http.post(f"{url}/_mock/faults", json=rule,
                             headers={"Origin": allowed, "apiToken": "t-allowed"}) as response:
            assert response.status == 201
            assert response.headers["Access-Control-Allow-Origin"] == allowed
        async with http.get(f"{url}/_mock/faults?limit=x",
                            headers={"Origin": allowed, "apiToken": "t-allowed"}) as response:
            assert response.status == 400  # an error is readable too
            assert response.headers["Access-Control-Allow-Origin"] == allowed
        headers["Origin"] = preflight["Origin"] = other
        async with http.post(f"{url}/_mock/reset", headers=headers) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers
        async with http.options(f"{url}/_mock/faults", headers=preflight) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers


async def test_the_gateway_admin_routes_are_sealed_too(servers: tuple[str, str]) -> None:
    _, gateway_url = servers
    async with ClientSession() as http:
        async with http.post(f"{gateway_url}/_gateway/deadletter/redrive", data=b"{}",
                             headers={"Origin": "http://evil.example",
                                      "Content-Type": "application/json"}) as response:
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "cross_site_request"
        async with http.post(f"{gateway_url}/_gateway/deadletter/redrive", data=b"{}",
                             headers={"Content-Type": "text/plain"}) as response:
            assert response.status == 415
        async with http.post(f"{gateway_url}/_gateway/deadletter/redrive", json={}) as response:
            assert (response.status, await response.json()) == (200, {"redriven": 0,
                                                                      "notFound": []})
        async with http.post(f"{gateway_url}/v1/track", headers={
                "Origin": "http://shop.example", "Sec-Fetch-Site": "cross-site",
                "Content-Type": "text/plain"}, data=json.dumps(
                    {"userId": "u1", "event": "Viewed", "writeKey": "k"})) as response:
            assert response.status == 200  # analytics.js posts text/plain cross-origin
