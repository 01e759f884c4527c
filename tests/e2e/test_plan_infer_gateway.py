"""`segment-connector plan infer --from-gateway URL`: a plan drafted from a running gateway's
accepted messages (GET /_gateway/accepted, paged) is the one drafted from the same messages in
a file (the hand-written golden draft); an unreachable gateway is a one-line error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import ClientSession

from connector.cli import build_parser, main
from tests.e2e.gateway_helpers import gateway_stats, get, post, refusing_socket, run_gateway

GOLDEN = Path(__file__).resolve().parents[2] / "contracts" / "tracking-plans" / "inference"


async def test_the_draft_from_a_gateway_is_the_draft_from_its_messages(
    mock_url: str, token: str, http: ClientSession, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    messages = [json.loads(line) for line in (GOLDEN / "messages.jsonl").read_text().splitlines()]
    monkeypatch.setattr("connector.cli.plan.PAGE", 3)  # three pages: 3, 3 and 2 messages
    async with run_gateway(mock_url, token) as gateway:
        assert await post(http, f"{gateway}/v1/batch", {"batch": messages}) == (
            200, {"success": True})
        await gateway_stats(http, gateway, received=len(messages))
        status, page = await get(http, f"{gateway}/_gateway/accepted", limit=3)
        assert (status, [m["messageId"] for m in page["messages"]]) == (
            200, ["inf-1", "inf-2", "inf-3"])
        assert page["next"] is not None
        args = build_parser().parse_args(
            ["plan", "infer", "--from-gateway", gateway, "--enums", "--name", "Golden"])
        # off the loop that serves the gateway (main() sets signal handlers: main thread only)
        assert await asyncio.to_thread(args.handler, args) == 0
    golden = (GOLDEN / "expected.yaml").read_text().splitlines()
    without_common = golden[:golden.index("common:  # context fields in every one of the 8 "
                                          "message(s)")] + golden[-1:]
    without_common[0] = without_common[0].replace("(stdin)", f"({gateway})")
    assert capsys.readouterr().out.splitlines() == without_common


def test_an_unreachable_gateway_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with refusing_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        assert main(["plan", "infer", "--from-gateway", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: the gateway {url} cannot be read (URLError: ")
    assert err.count("\n") == 1
