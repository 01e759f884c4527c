"""`segment-connector send` as a user runs it: a real process against a live mock.

The mock runs in the test's event loop (conftest `mock_url`); the command runs as a subprocess
(`python -m connector.cli`), so the exit status, stdout (summary table) and stderr (progress,
failures) are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import ClientSession

from connector import Mapped, MappingSettings, map_message

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "fixtures" / "small.jsonl"
T = "2026-03-01T10:00:00.000Z"


async def run_send(*args: str, stdin: bytes | None = None) -> tuple[int, list[str], list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "connector.cli", "send", *args, cwd=ROOT,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines(), err.decode().splitlines()


async def stored_events(http: ClientSession, url: str) -> list[dict[str, Any]]:
    async with http.get(f"{url}/_mock/events", params={"limit": "10000"}) as response:
        body = await response.json()
    return [record["event"] for record in body["events"]]


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode() + b"\n"


async def test_send_reports_every_failure_with_its_line_and_exits_1(
    tmp_path: Path, mock_url: str, token: str, http: ClientSession
) -> None:
    good = {"type": "track", "event": "Order Completed", "userId": "u1", "timestamp": T,
            "properties": {"revenue": 42.5, "currency": "EUR"}, "messageId": "m1"}
    identify = {"type": "identify", "userId": "u1", "anonymousId": "a1", "timestamp": T,
                "traits": {"plan": "pro"}, "messageId": "m9"}
    too_long = {**good, "messageId": "m7", "properties": {"note": "x" * 33_000}}
    file = tmp_path / "traffic.jsonl"
    file.write_bytes(b"".join([
        line(good),                                                  # 1 sent
        b"{not json\n",                                              # 2 invalid_json
        b"\n",                                                       # 3 blank: ignored
        line({**good, "event": "", "messageId": "m4"}),              # 4 missing_field event
        line({"type": "page", "anonymousId": "a1", "timestamp": T}),  # 5 skipped
        b"\xc3\x28\n",                                               # 6 invalid_json (UTF-8)
        line(too_long),                                              # 7 rejected by the mock
        line({**good, "timestamp": "yesterday", "messageId": "m8"}),  # 8 invalid_timestamp
        line(identify),                                              # 9 sent
    ]))

    status, out, err = await run_send(str(file), "--url", mock_url, "--token", token)

    assert status == 1
    assert out == [
        "outcome  reason                   messages",
        "sent                                     2",
        "skipped  unsupported_message_type        1",
        "failed   invalid_json                    2",
        "failed   invalid_payload                 1",
        "failed   invalid_timestamp               1",
        "failed   missing_field                   1",
        "total                                    8",
        "3 requests, 0 retries, 0 idempotent replays",
    ]
    assert re.fullmatch(r"sending .* 3/3 \d:\d\d:\d\d", err[0]), err[0]
    assert err[1:] == [
        "line 2: invalid_json: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "line 4: missing_field (event): a track needs a non-empty event name",
        "line 6: invalid_json: not UTF-8: invalid continuation byte at byte 0",
        "line 7: invalid_payload: the event is invalid: $.labels.note: value is longer than "
        "32768 characters (rejected, never truncated)",
        "line 8: invalid_timestamp (timestamp): timestamp is not an ISO-8601 date-time: "
        '"yesterday"',
    ]
    assert await stored_events(http, mock_url) == [
        map_message(good).event,  # type: ignore[union-attr]
        map_message(identify).event,  # type: ignore[union-attr]
    ]


async def test_send_small_fixture_with_every_option(
    mock_url: str, token: str, http: ClientSession
) -> None:
    messages = [json.loads(text) for text in SMALL.read_text(encoding="utf-8").splitlines()]
    types = Counter(m["type"] for m in messages)
    settings = MappingSettings(actor_type="Account", map_page_screen=True)
    expected = [r.event for r in (map_message(m, settings) for m in messages)
                if isinstance(r, Mapped)]
    sent = types["identify"] + types["track"] + types["page"] + types["screen"]
    assert len(expected) == sent
    assert types["page"] > 0 and types["screen"] > 0
    assert sent < 100  # one batch (batch_size 100)

    status, out, _ = await run_send(
        str(SMALL), "--url", mock_url, "--token", token, "--actor-type", "Account",
        "--map-page-screen", "--batch", "--concurrency", "2")

    assert status == 0
    rows = [("outcome", "reason", "messages"), ("sent", "", sent),
            ("skipped", "unsupported_message_type", types["group"] + types["alias"]),
            ("failed", "", 0), ("total", "", len(messages))]
    assert out == [f"{outcome:<8} {reason:<24} {n:>8}" for outcome, reason, n in rows] + [
        f"{(sent + 99) // 100} requests, 0 retries, 0 idempotent replays"]
    # One batch holds every event (fewer than 100), so the mock stored them in file order.
    assert await stored_events(http, mock_url) == expected


async def test_send_reads_stdin_and_a_resend_is_an_idempotent_replay(
    mock_url: str, token: str, http: ClientSession
) -> None:
    messages = [{"type": "track", "event": f"Step {n}", "anonymousId": "a1", "timestamp": T,
                 "messageId": f"m{n}"} for n in range(3)]
    data = b"".join(line(m) for m in messages)
    args = ("-", "--url", mock_url, "--token", token, "--concurrency", "1")

    first = await run_send(*args, stdin=data)
    again = await run_send(*args, stdin=data)

    table = [
        "outcome  reason messages",
        "sent                   3",
        "skipped                0",
        "failed                 0",
        "total                  3",
    ]
    assert first[:2] == (0, [*table, "3 requests, 0 retries, 0 idempotent replays"])
    assert again[:2] == (0, [*table, "3 requests, 0 retries, 3 idempotent replays"])
    assert [e["eventType"] for e in await stored_events(http, mock_url)] == [
        "Step 0", "Step 1", "Step 2"]


async def test_send_usage_errors_exit_2_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    assert await run_send(str(missing), "--url", "http://127.0.0.1:9", "--token", "t") == (
        2, [], [f"segment-connector send: error: argument FILE.jsonl: {missing} does not exist; "
                "see segment-connector send --help"])
    assert await run_send(str(SMALL), "--url", "ftp://example.com", "--token", "t") == (
        2, [], ["segment-connector send: url must be an http:// or https:// URL, "
                "not 'ftp://example.com'"])
    assert await run_send(str(SMALL), "--url", "http://127.0.0.1:9", "--token", "t",
                          "--actor-type", " ") == (
        2, [], ["segment-connector send: actor_type must be a non-blank string, not ' '"])
    status, out, err = await run_send(str(SMALL), "--url", "http://127.0.0.1:9")
    assert (status, out) == (2, [])
    assert err == ["segment-connector send: error: the following arguments are required: "
                   "--token; see segment-connector send --help"]
