"""The delivery guarantees docs/reliability.md states, each proved here against real servers.

Retries wait milliseconds (the backoff caps and Retry-After are lowered for the tests); every
other delivery setting is the gateway's default, the 12-hour retry budget included.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from connector.config import GATEWAY_RETRY_FOR, DeliveryConfig, MappingSettings
from connector.pipeline import send
from tests.e2e.gateway_helpers import (
    SUCCESS,
    counts,
    gateway_stats,
    get,
    post,
    refusing_socket,
    run_gateway,
)
from tests.reliability.fault_traffic import (
    accept,
    add_faults,
    messages,
    per_actor,
    stored_numbers,
)

Json = dict[str, Any]
T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)


def gateway_defaults(url: str, token: str) -> DeliveryConfig:
    """The gateway's defaults, with waits of milliseconds instead of seconds."""
    return DeliveryConfig(url=url, token=token, retry_for=GATEWAY_RETRY_FOR, backoff_base=0.001,
                          backoff_max=0.005, retry_after_max=0.005)


async def test_503_twenty_times_then_429_to_30_percent_loses_nothing_and_keeps_order(
    mock_url: str, token: str, http: ClientSession
) -> None:
    total, actors = 300, 30
    await add_faults(http, mock_url, [
        {"kind": "status", "status": 503, "times": 20},
        {"kind": "status", "status": 429, "retryAfter": 1, "probability": 0.3, "seed": 13},
    ])
    async with run_gateway(mock_url, token, delivery=gateway_defaults(mock_url, token)) as gw:
        await accept(http, gw, messages(total, actors))
        assert await gateway_stats(http, gw, delivered=total) == counts(
            received=total, delivered=total)
    stored = await stored_numbers(http, mock_url)
    assert sorted(n for _, n in stored) == list(range(total))  # each exactly once
    assert per_actor(stored) == {
        f"actor-{k}": list(range(k, total, actors)) for k in range(actors)}


async def test_send_gives_up_on_a_destination_down_longer_than_its_budget(
    mock_url: str, token: str, http: ClientSession
) -> None:
    await add_faults(http, mock_url, [{"kind": "status", "status": 503, "durationSeconds": 60}])
    config = DeliveryConfig(url=mock_url, token=token, retry_for=0.3, backoff_base=0.01,
                            backoff_max=0.05)
    started = asyncio.get_running_loop().time()
    summary = await send(messages(4, 2), config, session=http)
    assert asyncio.get_running_loop().time() - started < 5
    assert summary.sent == 0
    assert summary.failed == {"injected_fault": 4}
    assert all("retry budget 0.3 s" in failure.message for failure in summary.failures)


async def test_send_to_an_unreachable_url_fails_fast_naming_it(tmp_path: Path) -> None:
    file = tmp_path / "in.jsonl"
    file.write_text('{"type": "track", "event": "E", "userId": "u", "messageId": "m", '
                    '"timestamp": "2026-11-28T10:00:00.000Z"}\n')
    with refusing_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        started = asyncio.get_running_loop().time()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "connector.cli", "send", str(file), "--url", url, "--token", "t",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await process.communicate()
        elapsed = asyncio.get_running_loop().time() - started
    assert process.returncode == 1
    assert elapsed <= 10
    assert f"{url} cannot be reached" in err.decode()
    assert "ssl" not in err.decode().lower()


async def test_one_outbox_replays_one_file_to_two_tenants(
    mock_url: str, token: str, http: ClientSession, tmp_path: Path
) -> None:
    outbox = str(tmp_path / "outbox.sqlite3")
    batch = messages(20, 4)
    other = token + "-second"
    async with run_gateway(mock_url, token, outbox=outbox) as gw:
        await accept(http, gw, batch)
        await gateway_stats(http, gw, delivered=20)
    async with run_gateway(mock_url, other, outbox=outbox) as gw:
        await accept(http, gw, batch)  # the same messageIds, another destination
        assert await gateway_stats(http, gw, delivered=40) == counts(received=40, delivered=40)
        await accept(http, gw, batch)  # the same destination again: deduplicated
        assert await gateway_stats(http, gw, deduplicated=20) == counts(
            received=60, delivered=40, deduplicated=20)
    for tenant in (token, other):
        async with http.get(f"{mock_url}/_mock/events", headers={"apiToken": tenant}) as answer:
            assert (await answer.json())["total"] == 20


async def test_delivered_rows_are_pruned_past_the_dedup_window_and_the_file_stops_growing(
    mock_url: str, token: str, http: ClientSession, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    now = [T0]
    sizes = []
    async with run_gateway(mock_url, token, outbox=str(outbox), dedup_window=60,
                           clock=lambda: now[0]) as gw:
        for round_ in range(8):
            await accept(http, gw, messages(400, 20, first=400 * round_))
            await gateway_stats(http, gw, delivered=400 * (round_ + 1))
            now[0] += timedelta(seconds=61)  # what was delivered is now past the window
            sizes.append(sum(os.path.getsize(p) for p in tmp_path.iterdir()))
        assert (await get(http, f"{gw}/_gateway/messages/m-0"))[0] == 404  # pruned
        assert (await get(http, f"{gw}/_gateway/messages/m-3199"))[0] == 200  # in the window
    # Once the WAL has reached its checkpoint size (about 4 MB, in round 5), eight rounds hold
    # no more than five: the file follows the window, not the history.
    assert sizes[-1] <= sizes[4] * 1.1, sizes


async def test_legacy_action_is_taken_as_type_on_every_route(
    mock_url: str, token: str, http: ClientSession
) -> None:
    message = {"action": "track", "event": "Signed Up", "userId": "u_1", "messageId": "m-a",
               "timestamp": "2026-11-28T10:00:00.000Z"}
    async with run_gateway(mock_url, token) as gw:
        assert await post(http, f"{gw}/v1/batch", {"batch": [message]}) == (200, SUCCESS)
        assert await post(http, f"{gw}/v1/track", {**message, "messageId": "m-b"}) == (
            200, SUCCESS)
        assert await gateway_stats(http, gw, delivered=2) == counts(received=2, delivered=2)


async def test_a_gateway_with_a_wrong_url_says_so_on_its_log(
    mock_url: str, token: str, http: ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    with refusing_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with run_gateway(url, token, delivery=DeliveryConfig(
                url=url, token=token, retry_for=0.2, backoff_base=0.01, backoff_max=0.02)) as gw:
            await accept(http, gw, messages(1, 1))
            await gateway_stats(http, gw, deadLettered=1)
    wrong_path = mock_url + "/nowhere"  # answered 404: a dead letter at once
    async with run_gateway(wrong_path, token) as gw:
        await accept(http, gw, messages(1, 1, first=1))
        await gateway_stats(http, gw, deadLettered=1)
    lines = [record.getMessage() for record in caplog.records]
    assert any(line.startswith(f"destination {url} is failing (connect_failed")
               for line in lines), lines
    assert any(line.startswith("dead letter m-0: connect_failed: ") and "retry budget" in line
               for line in lines), lines
    assert any(line.startswith("dead letter m-1: ") for line in lines), lines


async def test_a_lowered_label_limit_leaves_the_value_out_and_says_so(
    start_mock: Any, token: str, http: ClientSession
) -> None:
    from mockserver.settings import Limits

    settings = MappingSettings(max_label_length=100)
    big = {"type": "track", "event": "E", "userId": "u", "messageId": "m-big",
           "timestamp": "2026-11-28T10:00:00.000Z",
           "properties": {"note": "x" * 101, "plan": "pro"}}
    async with start_mock(limits=Limits(max_label_length=100)) as mock_url:
        async with run_gateway(mock_url, token, mapping=settings) as gw:
            assert await post(http, f"{gw}/v1/batch", {"batch": [big]}) == (200, SUCCESS)
            assert await gateway_stats(http, gw, delivered=1) == counts(
                received=1, delivered=1, labelsLeftOut=1)
            status, record = await get(http, f"{gw}/_gateway/messages/m-big")
            assert (status, record["labelsLeftOut"]) == (200, ["note"])
        async with http.get(f"{mock_url}/_mock/events") as answer:
            stored = (await answer.json())["events"]
    assert [event["event"]["labels"] for event in stored] == [{"plan": "pro"}]
