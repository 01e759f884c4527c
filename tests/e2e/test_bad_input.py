"""Malformed requests to the ingest API: each gets its exact status and JSON error, stores
nothing, is listed in /_mock/rejected, and leaves the server serving valid events.

The corpus is in bad_inputs.py. Malformed HTTP (which aiohttp's parser answers before the
mock's code runs) is probed at the end over raw sockets.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientSession

from mockserver.record.format import Header
from tests.conftest import StartMock
from tests.e2e.bad_inputs import CASES, MIB, VALID, BadInput, padded

CHUNK = 64 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}
IO_GUARD_SECONDS = 10.0  # only bounds a hung socket; every read returns as soon as data is there


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    text: str


# -- sending ---------------------------------------------------------------------------------


def request_bytes(method: str, path: str, headers: Mapping[str, str], body: bytes) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if not any(name.lower() == "content-length" for name in headers):
        head.append(f"Content-Length: {len(body)}")
    head += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


async def raw_exchange(url: str, data: bytes) -> Answer:
    """Write `data` on a fresh socket and read one response (headers, then Content-Length bytes):
    it never waits for the server to close, so it also works while the server still expects
    more body."""
    address = urlsplit(url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(data)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IO_GUARD_SECONDS)
        status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers["content-length"])
        body = await asyncio.wait_for(reader.readexactly(length), IO_GUARD_SECONDS)
    finally:
        writer.close()
    return Answer(int(status_line.split(" ")[1]), headers, body.decode("utf-8", "replace"))


async def chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start: start + CHUNK]


async def send(case: BadInput, url: str, token: str) -> Answer:
    headers = {**case.headers, **({"apiToken": token} if case.token else {})}
    if case.transport == "raw":
        return await raw_exchange(url, request_bytes(case.method, case.path, headers, case.body))
    data: Any = case.body or None
    if case.transport == "chunked":
        data = chunks(case.body)
    async with (
        ClientSession() as session,
        session.request(case.method, url + case.path, data=data, headers=headers) as response,
    ):
        text = await response.text()
        return Answer(response.status, {k.lower(): v for k, v in response.headers.items()}, text)


# -- checking --------------------------------------------------------------------------------


def error_of(answer: Answer) -> dict[str, Any]:
    """The error object of a JSON error answer, checked for its exact shape."""
    assert "Traceback" not in answer.text
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    body = json.loads(answer.text)
    assert list(body) == ["error"]
    error: dict[str, Any] = body["error"]
    assert sorted(error) == ["code", "details", "message"]
    assert isinstance(error["message"], str)
    assert error["message"].strip()
    assert isinstance(error["details"], dict)
    return error


def check_details(case: BadInput, error: dict[str, Any]) -> None:
    if not case.violations:
        assert error["details"] == case.details
        return
    found = error["details"]["violations"]
    assert [v["path"] for v in found] == [path for path, _ in case.violations]
    for violation, (_, words) in zip(found, case.violations, strict=True):
        assert words in violation["message"], violation
    extra = {k: v for k, v in error["details"].items() if k != "violations"}
    assert extra == case.details


def check_message(case: BadInput, message: str) -> None:
    if case.says or not case.violations:
        assert case.says in message
        return
    first_path, first_words = case.violations[0]
    assert f"{first_path}: " in message
    assert first_words in message


async def get_json(http: ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_bad_input_is_rejected_cleanly(
    case: BadInput, mock_url: str, token: str, http: ClientSession
) -> None:
    answer = await send(case, mock_url, token)

    assert answer.status == case.status, answer.text
    error = error_of(answer)
    assert error["code"] == case.code
    check_message(case, error["message"])
    check_details(case, error)
    for name, value in case.response_headers.items():
        assert answer.headers[name.lower()] == value

    # Nothing stored.
    listed = await get_json(http, f"{mock_url}/_mock/events")
    assert (listed["total"], listed["events"]) == (0, [])
    stats = await get_json(http, f"{mock_url}/_mock/stats")
    assert stats["events"] == 0
    assert stats["actors"] == 0

    # Listed as rejected, with the same reasons (a request without a token has no tenant).
    rejected = (await get_json(http, f"{mock_url}/_mock/rejected"))["rejected"]
    if case.token:
        assert stats["rejected"] == 1
        assert len(rejected) == 1
        entry = rejected[0]
        assert (entry["method"], entry["path"], entry["status"], entry["code"]) == (
            case.method, case.path, case.status, case.code)
        assert entry["message"] == error["message"]
        assert entry["violations"] == error["details"].get("violations", [])
    else:
        assert (stats["rejected"], rejected) == (0, [])

    # The server still takes a valid event.
    async with http.post(f"{mock_url}/event", data=VALID, headers=JSON_HEADERS) as response:
        assert response.status == 202, await response.text()
        stored_id = (await response.json())["id"]
    listed = await get_json(http, f"{mock_url}/_mock/events")
    assert listed["total"] == 1
    assert listed["events"][0]["id"] == stored_id
    assert listed["events"][0]["event"] == json.loads(VALID)


def test_the_corpus_covers_at_least_35_distinct_cases() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 35


async def test_a_durable_mock_refuses_a_lone_surrogate_too(
    start_mock: StartMock, tmp_path: Path, token: str, http: ClientSession
) -> None:
    """The in-memory store could keep "\\ud800"; the journal cannot write it as UTF-8 (it used to
    answer 500), so the mock refuses it up front whatever the storage."""
    case = next(case for case in CASES if case.id == "lone-surrogate-escape")
    journal = tmp_path / "events.jsonl"
    async with start_mock(db=str(journal)) as url:
        answer = await send(case, url, token)
        assert answer.status == 400, answer.text
        assert error_of(answer)["code"] == "invalid_json"
        stats = await get_json(http, f"{url}/_mock/stats")
        assert (stats["events"], stats["rejected"]) == (0, 1)
    assert journal.read_bytes() == Header().line()  # the record's header, and nothing stored


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


INFLATED = {
    "gzip": ("gzip", gzip.compress(VALID)),
    "x-gzip": ("x-gzip", gzip.compress(VALID)),
    "deflate-zlib-wrapped": ("deflate", zlib.compress(VALID)),
    "deflate-raw": ("deflate", raw_deflate(VALID)),
    "gzip-inflating-to-exactly-1mib": ("gzip", gzip.compress(padded(MIB))),
}


@pytest.mark.parametrize(("encoding", "body"), INFLATED.values(), ids=INFLATED.keys())
async def test_the_mock_inflates_a_valid_compressed_body_itself(
    encoding: str, body: bytes, mock_url: str, http: ClientSession
) -> None:
    """The counterpart of the corrupt-compression cases: aiohttp's auto_decompress is off, so
    read_body inflates these; a body of exactly the limit once inflated is still accepted."""
    headers = {**JSON_HEADERS, "Content-Encoding": encoding}
    async with http.post(f"{mock_url}/event", data=body, headers=headers) as response:
        assert response.status == 202, await response.text()
    listed = await get_json(http, f"{mock_url}/_mock/events")
    assert listed["total"] == 1
    assert listed["events"][0]["event"] == json.loads(VALID)


# -- malformed HTTP: aiohttp's parser answers before any of the mock's code runs -------------

BAD_HTTP = {
    "bad-request-line": (b"GARBAGE\r\n\r\n", "Invalid method encountered"),
    "invalid-header-name": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nBad Header: y\r\nContent-Length: 0\r\n\r\n",
        "Invalid header token",
    ),
    "header-over-8190-bytes": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        "Got more than 8190 bytes when reading",
    ),
    "content-length-not-a-number": (
        b"POST /event HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
        "Invalid character in Content-Length",
    ),
}


@pytest.mark.parametrize(("request_data", "says"), BAD_HTTP.values(), ids=BAD_HTTP.keys())
async def test_malformed_http_gets_aiohttp_plain_400_and_the_server_keeps_serving(
    request_data: bytes, says: str, mock_url: str, http: ClientSession
) -> None:
    """aiohttp's parser answers these itself ("HTTP/1.0 400", plain text, connection closed)
    before the app, its middleware and its JSON errors exist for the request. The only hook,
    RequestHandler.handle_error, is reachable only through aiohttp internals (web.Server's
    private constructor arguments and AppRunner._make_server), and it gets a placeholder request
    without headers, so not even the tenant is known: this pins what clients get instead."""
    answer = await raw_exchange(mock_url, request_data)
    assert answer.status == 400
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert says in answer.text
    assert "Traceback" not in answer.text

    async with http.post(f"{mock_url}/event", data=VALID, headers=JSON_HEADERS) as response:
        assert response.status == 202
    stats = await get_json(http, f"{mock_url}/_mock/stats")
    assert (stats["events"], stats["rejected"]) == (1, 0)
