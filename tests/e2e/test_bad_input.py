"""Malformed requests to the ingest API: each gets its exact status and JSON error, stores
nothing, is listed in /_mock/rejected, and leaves the server serving valid events.

The corpus is in bad_inputs.py, the sending and checking in bad_input_checks.py. Malformed
HTTP (which aiohttp's parser answers before the mock's code runs) is probed at the end over raw
sockets.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from aiohttp import ClientSession

from mockserver.record.format import Header
from tests.conftest import StartMock
from tests.e2e.bad_input_checks import (
    JSON_HEADERS,
    check_refused_cleanly_by_the_mock,
    error_of,
    get_json,
    send,
)
from tests.e2e.bad_inputs import CASES, MIB, VALID, BadInput, padded
from tests.helpers.raw_http import raw_exchange


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_bad_input_is_rejected_cleanly(
    case: BadInput, mock_url: str, token: str, http: ClientSession
) -> None:
    await check_refused_cleanly_by_the_mock(case, mock_url, token, http)


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
