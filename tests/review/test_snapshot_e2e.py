"""GET /_mock/snapshot, `pointillist-mock snapshot` and `diff`, and MockHandle.snapshot on a real
mock (127.0.0.1, ephemeral port); the medium scenario diffed against a hand-edited export."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from connector.pipeline import plan, read_jsonl
from mockserver.__main__ import main
from mockserver.http.server import BackgroundServer
from mockserver.plugin.handle import MockHandle
from mockserver.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "review-token"
EVENTS = [
    {"eventType": "Order Completed", "eventTime": "2026-11-28T11:00:00.000Z",
     "actors": {"Customer": {"userId": "u_1"}}, "numbers": {"revenue": 42.5}},
    {"eventType": "identify", "eventTime": "2026-11-28T10:00:00.000Z",
     "actors": {"Customer": {"userId": "u_1", "anonymousId": "a_9"}}, "labels": {"plan": "pro"}},
]
EXPECTED = (
    '{"actors":{"Customer":{"anonymousId":"a_9","userId":"u_1"}},'
    '"eventTime":"2026-11-28T10:00:00.000Z","eventType":"identify","labels":{"plan":"pro"}}\n'
    '{"actors":{"Customer":{"userId":"u_1"}},"eventTime":"2026-11-28T11:00:00.000Z",'
    '"eventType":"Order Completed","numbers":{"revenue":42.5}}\n'
)


def test_the_route_the_cli_and_the_handle_give_the_same_snapshot(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = tmp_path / "mock.db"
    with BackgroundServer(Settings(db=str(record))) as server:
        handle = MockHandle(server.url, TOKEN)
        handle.send(EVENTS[0], idempotency_key="m-1")
        handle.send(EVENTS[1])
        request = urllib.request.Request(f"{server.url}/_mock/snapshot",
                                         headers={"apiToken": TOKEN})
        with urllib.request.urlopen(request) as response:
            assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
            assert response.read().decode() == EXPECTED
        assert handle.snapshot() == EXPECTED
        assert handle.snapshot(event_times=False).lines[1] == (
            '{"actors":{"Customer":{"userId":"u_1"}},"eventType":"Order Completed",'
            '"numbers":{"revenue":42.5}}')
        assert MockHandle(server.url, "other").snapshot().text == ""
        # while the mock serves the record
        assert main(["snapshot", "--db", str(record), "--token", TOKEN]) == 0
        assert capsys.readouterr().out == EXPECTED
        out = tmp_path / "snap.jsonl"
        assert main(["snapshot", "--url", server.url, "--token", TOKEN, "--out", str(out)]) == 0
        assert capsys.readouterr().out == f"wrote 2 events to {out}\n"
        assert out.read_text() == EXPECTED
        assert main(["diff", server.url, str(out), "--token", TOKEN]) == 0
        assert capsys.readouterr().out == "no difference: the same 2 events\n"
        assert main(["diff", server.url, str(out)]) == 2
        assert capsys.readouterr().err == (
            f"pointillist-mock diff: {server.url}: a running mock needs --token\n")


def test_a_bad_event_times_parameter_is_a_json_error() -> None:
    with BackgroundServer(Settings()) as server:
        request = urllib.request.Request(f"{server.url}/_mock/snapshot?eventTimes=no",
                                         headers={"apiToken": TOKEN})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        assert caught.value.code == 400
        assert json.loads(caught.value.read())["error"]["message"] == (
            "eventTimes must be keep or drop, not 'no'")


def test_diff_of_the_medium_scenario_and_a_hand_edited_export(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = (ROOT / "fixtures" / "medium.jsonl").read_bytes().splitlines()
    events = [delivery.event for delivery in plan(read_jsonl(lines)).deliveries]
    record = tmp_path / "medium.db"
    with BackgroundServer(Settings(db=str(record))) as server:
        handle = MockHandle(server.url, TOKEN)
        for start in range(0, len(events), 500):
            handle.send_batch(events[start:start + 500])
    export = tmp_path / "medium-export.json"
    assert main(["export", "--db", str(record), "--token", TOKEN, "--out", str(export)]) == 0
    capsys.readouterr()
    # The hand edit: one Product Added of usr_39a898c8aa4c (anonymous on that device) in EUR.
    lines_of_export = export.read_text().splitlines(keepends=True)
    line = next(i for i, text in enumerate(lines_of_export) if text.startswith('"101": '))
    assert '"eventType":"Product Added"' in lines_of_export[line]
    assert '"currency":"USD"}' in lines_of_export[line]
    assert '"price":299.0,' in lines_of_export[line]
    hand_edited = lines_of_export[line].replace('"currency":"USD"}', '"currency":"EUR"}')
    lines_of_export[line] = hand_edited.replace('"price":299.0,', '"price":279.0,')
    edited = tmp_path / "medium-edited.json"
    edited.write_text("".join(lines_of_export))
    assert main(["diff", str(record), str(export), "--token", TOKEN]) == 0
    assert capsys.readouterr().out == "no difference: the same 1043 events\n"
    assert main(["diff", str(record), str(edited), "--token", TOKEN]) == 1
    assert capsys.readouterr().out == (
        "Customer userId=usr_39a898c8aa4c\n"
        "  ~ #101 Product Added at 2026-01-10T14:07:50.459Z\n"
        '      label currency: "USD" → "EUR"\n'
        "      number price: 299.0 → 279.0\n"
        "0 added, 0 removed, 1 changed in 1 actor; 1042 unchanged (A: 1043 events, B: 1043)\n")


@pytest.mark.parametrize(("argv", "line"), [
    (["diff", "{tmp}/missing.jsonl", "{tmp}/missing.jsonl"],
     "pointillist-mock diff: cannot read {tmp}/missing.jsonl: No such file or directory"),
    (["snapshot", "--db", "{tmp}/missing.db", "--token", "t"],
     "pointillist-mock snapshot: cannot read {tmp}/missing.db: No such file or directory"),
    (["diff", "http://127.0.0.1:9", "http://127.0.0.1:9", "--token", "t"],
     "pointillist-mock diff: http://127.0.0.1:9: cannot reach the mock ([Errno 111] Connection "
     "refused)"),
])
def test_an_unreadable_source_is_one_line_and_exit_2(
        argv: list[str], line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", line.format(tmp=tmp_path) + "\n")
