"""The golden cases end to end: message → connector pipeline → DeliveryClient → live mock.

Same cases and loader as the pure runner (test_golden_mapping.py). Each case gets its own
in-memory mock and tenant token (conftest `mock_url`, `token`). An event case must be stored by
the mock exactly as the case expects it (GET /_mock/events); a skip or error case must reach the
mock not at all, and the pipeline reports it with the case's reason or code and field.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession

from connector.config import DeliveryConfig
from connector.pipeline import MessageFailure, Summary, send
from tests.contract.golden import GoldenCase, assert_same_json, case_params


async def _send(case: GoldenCase, url: str, token: str) -> Summary:
    # max_retries=0: against a healthy local mock, any retry would be a bug to see, not hide.
    config = DeliveryConfig(url=url, token=token, max_retries=0)
    return await send([case.message], config, case.settings)


async def _stored(http: ClientSession, url: str) -> dict[str, Any]:
    async with http.get(f"{url}/_mock/events") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    return body


@pytest.mark.parametrize("case", case_params(("event",)))
async def test_event_case_is_stored_exactly_as_expected(
    case: GoldenCase, mock_url: str, token: str, http: ClientSession
) -> None:
    summary = await _send(case, mock_url, token)
    assert summary.as_dict() == {
        "read": 1, "sent": 1, "duplicates": 0, "skipped": {}, "failed": {},
        "attempts": 1, "retries": 0,
        "labelsLeftOut": 1 if case.settings.max_label_length is not None else 0,
    }
    stored = await _stored(http, mock_url)
    assert stored["total"] == 1
    (record,) = stored["events"]
    assert_same_json(record["event"], case.expected_event)
    assert record["eventTime"] == case.expected_event["eventTime"]

    if case.message.get("messageId") is not None:  # the messageId is the Idempotency-Key
        again = await _send(case, mock_url, token)
        assert (again.sent, again.result.duplicates) == (1, 1)
        assert (await _stored(http, mock_url))["total"] == 1


@pytest.mark.parametrize("case", case_params(("skip", "error")))
async def test_skip_and_error_cases_send_nothing(
    case: GoldenCase, mock_url: str, token: str, http: ClientSession
) -> None:
    summary = await _send(case, mock_url, token)
    assert summary.sent == 0
    assert summary.result.attempts == 0
    if case.kind == "skip":
        assert summary.skipped == {case.expected["skip"]["reason"]: 1}
        assert summary.failures == []
    else:
        error = case.expected["error"]
        assert summary.skipped == {}
        assert summary.failures == [MessageFailure(
            line=1, stage="mapping", code=error["code"], field=error["field"],
            message=summary.failures[0].message, message_id=case.message.get("messageId"),
        )]
    stored = await _stored(http, mock_url)
    assert (stored["total"], stored["events"]) == (0, [])
    async with http.get(f"{mock_url}/_mock/stats") as response:
        stats = await response.json()
    assert (stats["events"], stats["rejected"]) == (0, 0)
