"""Sending a case of the bad-input corpus (bad_inputs.py) to a server and checking its refusal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientSession

from tests.e2e.bad_inputs import VALID, BadInput
from tests.helpers.raw_http import Answer, raw_exchange, request_bytes

CHUNK = 64 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}


# -- sending ---------------------------------------------------------------------------------


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


async def check_refused_cleanly_by_the_mock(
    case: BadInput, mock_url: str, token: str, http: ClientSession
) -> None:
    """Status, exact JSON error, nothing stored, the rejection listed with the same reasons,
    and a valid event still stored afterwards."""
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
