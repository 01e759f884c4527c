"""The gateway's --capture, and `segment-connector replay` of a capture against a snapshot: a
real mock and gateway on 127.0.0.1 (ephemeral ports); expected snapshots and diffs written by
hand."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import ClientSession

from connector.cli import build_parser
from connector.cli import main as connector_main
from connector.gateway.capture import Capture, rotated
from mockserver.http.server import serving
from mockserver.settings import Settings
from tests.e2e.gateway_helpers import post, run_gateway

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "capture-token"

CAPTURE = [  # as a gateway captures them: already enriched
    {"type": "identify", "userId": "u_1", "anonymousId": "a_9", "traits": {"plan": "pro"},
     "timestamp": "2026-11-28T10:00:00.000Z", "messageId": "m-1"},
    {"type": "page", "userId": "u_1", "anonymousId": "a_9", "name": "Home",
     "properties": {"path": "/"}, "timestamp": "2026-11-28T10:05:00.000Z", "messageId": "m-2"},
    {"type": "track", "userId": "u_1", "event": "Order Completed",
     "properties": {"revenue": 42.5}, "timestamp": "2026-11-28T10:10:00.000Z",
     "messageId": "m-3"},
]
BASELINE = (  # what Pointillist receives from CAPTURE with the default settings
    '{"actors":{"Customer":{"anonymousId":"a_9","userId":"u_1"}},"eventSource":"Segment",'
    '"eventTime":"2026-11-28T10:00:00.000Z","eventType":"identify","labels":{"plan":"pro"},'
    '"numbers":{}}\n'
    '{"actors":{"Customer":{"userId":"u_1"}},"eventSource":"Segment",'
    '"eventTime":"2026-11-28T10:10:00.000Z","eventType":"Order Completed","labels":{},'
    '"numbers":{"revenue":42.5}}\n'
)


def _replay(argv: list[str]) -> int:
    """`segment-connector ARGV` off the event loop's thread (main() sets signal handlers)."""
    args = build_parser().parse_args(argv)
    status: int = args.handler(args)
    return status


def test_a_capture_rotates_once_over_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "capture.jsonl"
    capture = Capture(path, max_bytes=40)
    assert capture.append([{"n": 1}, {"n": 2}]) == 2
    assert capture.append([]) == 0
    assert capture.append([{"n": "three, a longer line"}]) == 1  # 16 + 30 > 40: rotate
    capture.close()
    assert rotated(path).read_text() == '{"n":1}\n{"n":2}\n'
    assert path.read_text() == '{"n":"three, a longer line"}\n'
    assert capture.rotations == 1


async def test_capture_then_replay_gives_the_original_tenants_snapshot(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "capture.jsonl"
    lines = (ROOT / "fixtures" / "small.jsonl").read_text().splitlines()
    messages = [json.loads(line) for line in lines]
    async with serving(Settings(port=0)) as mock, \
            run_gateway(mock, TOKEN, capture=capture) as gateway, ClientSession() as http:
        for start in range(0, len(messages), 40):
            status, _ = await post(http, f"{gateway}/v1/batch",
                                   {"batch": messages[start:start + 40]})
            assert status == 200
        # neither a refused request nor a dropped message (no identifier) is captured
        status, _ = await post(http, f"{gateway}/v1/batch", raw=b'{"batch": [')
        assert status == 400
        status, _ = await post(http, f"{gateway}/v1/track", {"event": "x"})
        assert status == 200
        async with http.get(f"{gateway}/_gateway/stats",
                            params={"max_pending": "0", "timeout": "20"}) as response:
            assert (await response.json())["waitSatisfied"] is True
        async with http.get(f"{mock}/_mock/snapshot", headers={"apiToken": TOKEN}) as response:
            original = await response.text()
    captured = [json.loads(line) for line in capture.read_text().splitlines()]
    assert [m["messageId"] for m in captured] == [m["messageId"] for m in messages]
    assert all("receivedAt" in m and "writeKey" not in m for m in captured)
    snapshot = tmp_path / "original.jsonl"
    snapshot.write_text(original)
    assert original.count("\n") == 43  # hand-counted: the track and identify calls of small

    first = tmp_path / "first.jsonl"
    assert await asyncio.to_thread(_replay, [
        "replay", str(capture), "--compare-with", str(snapshot), "--out", str(first)]) == 0
    assert capsys.readouterr().out == "no difference: the same 43 events\n"
    assert first.read_text() == original
    assert await asyncio.to_thread(_replay, [
        "replay", str(capture), "--compare-with", str(first)]) == 0
    assert capsys.readouterr().out == "no difference: the same 43 events\n"


def test_replay_with_map_page_screen_shows_the_page_views_it_adds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_text("".join(json.dumps(m) + "\n" for m in CAPTURE))
    baseline = tmp_path / "baseline.jsonl"
    baseline.write_text(BASELINE)
    assert connector_main(["replay", str(capture), "--compare-with", str(baseline)]) == 0
    assert capsys.readouterr().out == "no difference: the same 2 events\n"

    assert connector_main(["replay", str(capture), "--compare-with", str(baseline),
                           "--map-page-screen"]) == 1
    assert capsys.readouterr().out == (
        "Customer userId=u_1\n"
        "  + #2 Viewed Home Page at 2026-11-28T10:05:00.000Z\n"
        "1 added, 0 removed, 0 changed in 1 actor; 2 unchanged (A: 2 events, B: 3)\n")
    assert connector_main(["replay", str(capture), "--compare-with", str(baseline),
                           "--map-page-screen", "--format", "markdown"]) == 1
    assert capsys.readouterr().out == (
        "**Pointillist events**: 1 added, 0 removed, 0 changed in 1 actor; 2 unchanged "
        "(A: 2 events, B: 3)\n"
        "\n"
        "#### Customer userId=u_1\n"
        "- added #2 `Viewed Home Page` at 2026-11-28T10:05:00.000Z\n")


def test_replay_of_an_unreadable_snapshot_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_text("")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert connector_main(["replay", str(capture), "--compare-with", str(bad)]) == 2
    assert capsys.readouterr().err == (
        f"segment-connector replay: {bad} is not a snapshot, an export or a record: line 1 is "
        "not one JSON event: 'not json'\n")
