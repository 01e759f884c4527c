"""Secrets stay secret: a Pointillist token or a Segment write key never appears in clear in a
log, in /_mock/rejected or its live feed, or in the gateway's inspection routes.

Clients put secrets where they should not: in a body, in a path, in a header line that breaks
HTTP. The mock shows what it refused (an excerpt of the body, the path, the validation
messages that quote values), so it masks every token it knows of there (the caller's, and every
configured one) as its first three characters and an ellipsis, e.g. "sec…". aiohttp logs a
malformed request with the offending bytes; both servers reduce that log line to its reason.

In process, every logger is captured at DEBUG (caplog); the CLIs run as subprocesses and their
whole stdout and stderr are searched.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiohttp import ClientSession

from connector.config import DeliveryConfig
from connector.gateway.settings import GatewaySettings
from mockserver.http.parsing import mask
from mockserver.settings import Settings
from tests.conftest import StartMock, make_event
from tests.e2e.gateway_helpers import gateway_stats, run_gateway
from tests.helpers.paths import ROOT
from tests.helpers.raw_http import raw_exchange
from tests.helpers.sse import next_message

TOKEN = "secret-token-0123456789abcdef"
OTHER = "other-configured-token-9876543210"
WRITE_KEY = "wk-secret-0123456789abcdef"
POINTILLIST_TOKEN = "pt-secret-0123456789abcdef"
SECRETS = (TOKEN, OTHER, WRITE_KEY, POINTILLIST_TOKEN)
MASKED = "sec\u2026"  # TOKEN as shown
EXCERPT = 512  # Limits.excerpt_chars


def test_a_token_is_shown_as_its_first_three_characters_or_not_at_all() -> None:
    assert (mask(TOKEN), mask("abcdefghijkl"), mask("abcdefghijk"), mask("t")) == (
        MASKED, "abc\u2026", "\u2026", "\u2026")


def test_no_settings_object_shows_a_secret_in_its_repr() -> None:
    """A repr ends up in tracebacks, pytest reports and log lines: the settings that hold
    secrets leave them out (and still compare them)."""
    delivery = DeliveryConfig(url="http://127.0.0.1:8787", token=POINTILLIST_TOKEN)
    shown = [repr(delivery),
             repr(GatewaySettings(delivery=delivery, write_keys=frozenset({WRITE_KEY}))),
             repr(Settings(tokens=frozenset({TOKEN, OTHER})))]
    assert_no_secret("".join(shown))
    assert "url='http://127.0.0.1:8787'" in shown[0]
    assert delivery != DeliveryConfig(url="http://127.0.0.1:8787", token="another")


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret} in clear"


def malformed_line_with(secret: str, path: str) -> bytes:
    """A request whose header line holding `secret` breaks HTTP (a NUL in the value): aiohttp
    refuses it and logs the offending line."""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\napiToken: {secret}\x00\r\n"
            "Content-Length: 0\r\n\r\n").encode()


# -- the mock, in process -----------------------------------------------------------------------


async def test_the_mock_masks_tokens_in_rejections_the_feed_and_the_logs(
    start_mock: StartMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The token starts 5 characters before the excerpt's cut: masked after the cut, its first
    # five characters would show.
    head = len('{"eventSource": "Segment", "eventType": "')
    padding = "x" * (EXCERPT - 5 - head)
    refused: list[tuple[str, str, Any, dict[str, str]]] = [
        ("POST", "/event", make_event(apiToken=TOKEN), {}),
        ("POST", "/event", make_event(labels={"token": {"value": TOKEN}}), {}),
        ("POST", "/event", make_event(eventType=padding + TOKEN + padding), {}),
        ("POST", "/events", [make_event(actors={"Customer": {"userId": TOKEN * 10}})], {}),
        ("POST", f"/event/{TOKEN}", make_event(), {}),
        ("POST", "/event", make_event(eventSource=OTHER, numbers={"n": OTHER}), {}),
        ("PUT", "/event", make_event(), {"Authorization": f"Bearer {TOKEN}"}),
    ]
    async with (start_mock(tokens=frozenset({TOKEN, OTHER})) as url,
                ClientSession(headers={"apiToken": TOKEN}) as http):
        async with http.get(f"{url}/_mock/stream") as stream:
            await stream.content.readuntil(b": connected\n\n")
            statuses = []
            for method, path, body, headers in refused:
                async with ClientSession() as client, client.request(
                        method, url + path, json=body,
                        headers=headers or {"apiToken": TOKEN}) as response:
                    statuses.append(response.status)
            fed = [await next_message(stream) for _ in refused]
        # A wrong token (strict mode) and a malformed request that holds the token.
        async with ClientSession() as stranger, stranger.get(
                f"{url}/_mock/stats", headers={"apiToken": TOKEN + "-guess"}) as response:
            assert response.status == 401
        answer = await raw_exchange(url, malformed_line_with(TOKEN, "/event"))
        assert answer.status == 400
        async with http.get(f"{url}/_mock/rejected") as response:
            listed = await response.json()

    assert statuses == [400, 400, 400, 400, 404, 400, 405]
    rejected = listed["rejected"]
    assert len(rejected) == len(refused)
    text = json.dumps(listed, ensure_ascii=False)
    assert_no_secret(text)
    assert_no_secret(json.dumps(fed, ensure_ascii=False))
    assert [kind for kind, _ in fed] == ["rejected"] * len(refused)
    newest_first = list(reversed(rejected))
    # What each entry shows instead of the token.
    assert f'"apiToken": "{MASKED}"' in newest_first[0]["bodyExcerpt"]
    assert MASKED in newest_first[1]["message"]
    assert MASKED in newest_first[1]["violations"][0]["message"]
    cut = newest_first[2]["bodyExcerpt"]
    assert (len(cut), cut.index(MASKED), TOKEN[:5] in cut) == (EXCERPT, EXCERPT - 5, False)
    assert newest_first[4]["path"] == f"/event/{MASKED}"
    assert newest_first[4]["message"] == f"no route for POST /event/{MASKED}"
    assert mask(OTHER) in newest_first[5]["bodyExcerpt"]
    assert newest_first[6]["code"] == "method_not_allowed"
    # The logs: no secret, and the malformed request reduced to its reason.
    assert_no_secret(caplog.text)
    assert [record.getMessage() for record in caplog.records
            if record.name == "mockserver.http"] == [
        "refused a malformed request from 127.0.0.1: 400 Invalid header value char"]
    assert all(record.exc_info is None for record in caplog.records
               if record.name == "mockserver.http")


# -- the gateway, in process --------------------------------------------------------------------


async def test_the_gateway_never_shows_a_write_key(
    start_mock: StartMock, caplog: pytest.LogCaptureFixture
) -> None:
    """Write keys offered in every place Segment takes them, valid or not, on delivered, dropped
    and refused messages: nowhere in the gateway's inspection routes, the mock's data, or the
    logs."""
    caplog.set_level(logging.DEBUG)
    basic = "Basic d2stc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWY6"  # base64(WRITE_KEY + ":")
    track = {"type": "track", "event": "Order Completed", "userId": "u_1", "messageId": "m-1",
             "writeKey": WRITE_KEY}
    dropped = {"type": "track", "event": "No Identifier", "messageId": "m-2",
               "writeKey": WRITE_KEY}
    async with start_mock() as mock, run_gateway(
            mock, POINTILLIST_TOKEN, write_keys=frozenset({WRITE_KEY})) as gateway, \
            ClientSession() as http:
        batch = {"batch": [track, dropped], "writeKey": WRITE_KEY}
        bearer = {"Authorization": f"Bearer {WRITE_KEY}"}
        statuses = []
        for body, headers in [(batch, {}), (track, {"Authorization": basic}),
                              ({**track, "messageId": "m-3"}, bearer),
                              ({**track, "writeKey": WRITE_KEY + "x"}, {})]:
            route = "batch" if "batch" in body else "track"
            async with http.post(f"{gateway}/v1/{route}", json=body, headers=headers) as response:
                statuses.append(response.status)
        assert statuses == [200, 200, 200, 401]
        answer = await raw_exchange(gateway, malformed_line_with(WRITE_KEY, "/v1/track"))
        assert answer.status == 400
        assert await gateway_stats(http, gateway, delivered=2) == {
            "received": 4, "deduplicated": 1, "dropped": 1, "skipped": 0, "delivered": 2,
            "pending": 0, "deadLettered": 0, "labelsLeftOut": 0, "loneSurrogatesRefused": 0}
        seen = []
        for path in ("/_gateway/dropped", "/_gateway/messages/m-1", "/_gateway/messages/m-2",
                     "/_gateway/messages/m-3", "/_gateway/deadletter", "/_gateway/stats"):
            async with http.get(gateway + path) as response:
                assert response.status == 200
                seen.append(await response.text())
        async with http.get(f"{mock}/_mock/events",
                            headers={"apiToken": POINTILLIST_TOKEN}) as response:
            seen.append(await response.text())
            assert (await response.json())["total"] == 2
    for text in seen:
        assert_no_secret(text)
    assert_no_secret(caplog.text)
    assert [record.getMessage() for record in caplog.records
            if record.name == "connector.gateway.http"] == [
        "refused a malformed request from 127.0.0.1: 400 Invalid header value char"]


# -- the command lines: everything they print ---------------------------------------------------


@contextmanager
def cli(*command: str) -> Iterator[tuple[str, list[str]]]:
    """A CLI server in a subprocess; yields its URL and, once it has stopped (SIGTERM), a list
    holding everything it printed."""
    process = subprocess.Popen([sys.executable, *command], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    printed: list[str] = []
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        printed.append(first)
        assert " listening on http://127.0.0.1:" in first, first + process.stderr.read()
        yield first.split(" listening on ")[1].split(" ")[0], printed
    finally:
        process.terminate()
        out, err = process.communicate(timeout=15)
        printed += [out, err]


async def test_neither_cli_prints_a_secret(token: str) -> None:
    mock_command = ("-m", "mockserver", "--port", "0", "--token", POINTILLIST_TOKEN,
                    "--token", OTHER)
    with cli(*mock_command) as (mock, mock_printed):
        gateway_command = ("-m", "connector.cli", "gateway", "--port", "0", "--outbox",
                           ":memory:", "--pointillist-url", mock, "--pointillist-token",
                           POINTILLIST_TOKEN, "--write-key", WRITE_KEY)
        with cli(*gateway_command) as (gateway, gateway_printed):
            async with ClientSession() as http:
                track = {"type": "track", "event": "Order Completed", "userId": "u_1",
                         "writeKey": WRITE_KEY}
                async with http.post(f"{gateway}/v1/track", json=track) as response:
                    assert response.status == 200
                async with http.post(f"{gateway}/v1/track", json={
                        **track, "writeKey": TOKEN}) as response:
                    assert response.status == 401
                assert (await gateway_stats(http, gateway, delivered=1))["delivered"] == 1
                for url, secret in [(mock, POINTILLIST_TOKEN), (mock, TOKEN),
                                    (gateway, WRITE_KEY)]:
                    answer = await raw_exchange(url, malformed_line_with(secret, "/event"))
                    assert answer.status == 400
                async with http.post(f"{mock}/event", json=make_event(apiToken=OTHER),
                                     headers={"apiToken": POINTILLIST_TOKEN}) as response:
                    assert response.status == 400
                async with http.get(f"{mock}/_mock/stats",
                                    headers={"apiToken": TOKEN}) as response:
                    assert response.status == 401
    everything = "".join(mock_printed + gateway_printed)
    assert_no_secret(everything)
    assert everything.count("refused a malformed request from 127.0.0.1: 400 Invalid header "
                            "value char") == 3
    assert "Traceback" not in everything
