"""A plan is untrusted input. No network and no file read from a plan (a loopback listener
proves no request is made); no pattern stalls the gateway (an ordinary client's latency stays
under a second while the hostile message is checked); alias expansion, nesting, size and rule
count refused at load in one line; a message too deep to check is a violation, not an error."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import ClientSession

from connector.cli import main
from connector.errors import PlanError
from connector.plans import load_plan, plan_from_data
from tests.e2e.gateway_helpers import get, post, run_gateway


@contextmanager
def loopback_listener() -> Iterator[tuple[socket.socket, int]]:
    """A listening socket nobody may connect to: accept() on it must find no connection."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        yield listener, listener.getsockname()[1]


def assert_never_connected(listener: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        listener.accept()


def plan_with_ref(ref: str) -> dict[str, object]:
    return {"rules": [{"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": {
        "type": "object", "properties": {"properties": {"type": "object", "properties": {
            "total": {"$ref": ref}}}}}}]}


def refusal(tmp_path: Path, data: object, capsys: pytest.CaptureFixture[str]) -> str:
    """What `validate` and `gateway` say of a plan they refuse: one line each, exit 2."""
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    capture = tmp_path / "capture.jsonl"
    capture.write_text("")
    assert main(["validate", str(capture), "--plan", str(path)]) == 2
    assert main(["gateway", "--tracking-plan", str(path), "--port", "0", "--pointillist-url",
                 "http://127.0.0.1:9/", "--pointillist-token", "unused"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert err[0].removeprefix("error: ") == err[1].removeprefix("segment-connector gateway: ")
    return err[0].removeprefix("error: ")


@pytest.mark.parametrize("scheme", ["http", "https", "file"])
def test_a_ref_to_a_url_or_a_file_is_refused_at_load_and_never_fetched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    with loopback_listener() as (listener, port):
        ref = (f"file://127.0.0.1:{port}/etc/passwd" if scheme == "file"
               else f"{scheme}://127.0.0.1:{port}/money.json")
        message = refusal(tmp_path, plan_with_ref(ref), capsys)
        assert message == (
            f"tracking plan {tmp_path / 'plan.json'}: rules[0] (Order Completed): jsonSchema: "
            f"the $ref \"{ref}\" at properties.properties.properties.total is refused: a plan "
            "may only refer inside itself (#/definitions/...), never to a URL or a file")
        assert_never_connected(listener)


def test_local_refs_resolve_at_load_and_a_missing_or_looping_one_is_refused() -> None:
    data = plan_with_ref("#/definitions/money")
    schema = data["rules"][0]["jsonSchema"]  # type: ignore[index]
    schema["definitions"] = {"money": {"$ref": "#/definitions/amount"},
                             "amount": {"type": "number", "minimum": 0}}
    plan = plan_from_data(data)
    (rule,) = plan.rules[("track", "Order Completed")]
    assert rule.schema["properties"]["properties"]["properties"]["total"] == {
        "type": "number", "minimum": 0}
    schema["definitions"] = {"money": {"$ref": "#/definitions/money"}}
    with pytest.raises(PlanError) as looping:
        plan_from_data(data, "p.json")
    assert looping.value.message == (
        "tracking plan p.json: rules[0] (Order Completed): jsonSchema: the $ref "
        "\"#/definitions/money\" at properties.properties.properties.total loops "
        "(#/definitions/money -> #/definitions/money)")
    schema["definitions"] = {}
    with pytest.raises(PlanError) as missing:
        plan_from_data(data, "p.json")
    assert missing.value.message == (
        "tracking plan p.json: rules[0] (Order Completed): jsonSchema: the $ref "
        "\"#/definitions/money\" at properties.properties.properties.total points to nothing "
        "in this rule")


HOSTILE_PATTERN = {"events": {"Signed Up": {"properties": {
    "code": {"type": "string", "pattern": "^(a+)+$"}}}}}


async def test_a_catastrophic_pattern_never_stalls_an_ordinary_client(
    mock_url: str, token: str, http: ClientSession
) -> None:
    """Python's re takes ~38 s for ^(a+)+$ against 31 characters; RE2 is linear."""
    plan = plan_from_data(HOSTILE_PATTERN)
    hostile = {"type": "track", "messageId": "hostile", "userId": "u_1", "event": "Signed Up",
               "properties": {"code": "a" * 30_000 + "!"}}
    ordinary = {"type": "track", "messageId": "ordinary", "userId": "u_2", "event": "Signed Up",
                "properties": {"code": "aaa"}}
    async with run_gateway(mock_url, token, plan=plan) as gateway:

        async def timed(message: dict[str, object]) -> float:
            started = time.perf_counter()
            assert await post(http, f"{gateway}/v1/track", message) == (200, {"success": True})
            return time.perf_counter() - started

        _, latency = await asyncio.gather(timed(hostile), timed(ordinary))
        assert latency < 1.0
        status, listed = await get(http, f"{gateway}/_gateway/violations")
        assert status == 200
        assert [(v["messageId"], v["kind"], v["path"]) for v in listed["violations"]] == [
            ("hostile", "invalid_value", "properties.code")]


def test_a_pattern_re2_cannot_run_is_refused_at_load() -> None:
    with pytest.raises(PlanError) as caught:
        plan_from_data({"events": {"A": {"properties": {
            "x": {"type": "string", "pattern": "^(a)\\1$"}}}}}, "p.yaml")
    assert caught.value.message == (
        "tracking plan p.yaml: events.A.properties.x: the pattern \"^(a)\\\\1$\" is "
        "refused: RE2 cannot run it (invalid escape "
        "sequence: \\1); patterns run on RE2, in linear time, without backreferences or "
        "lookaround")


def billion_laughs(levels: int) -> str:
    text = ('events:\n  A:\n    properties:\n      x:\n        type: string\n'
            '        x-lol:\n          a: &a ["lol","lol","lol","lol","lol","lol","lol","lol",'
            '"lol"]\n')
    previous = "a"
    for level in range(levels):
        text += f"          l{level}: &l{level} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = f"l{level}"
    return text + f"        description: *{previous}\n"


def test_resource_limits_are_refused_at_load_in_one_line(tmp_path: Path) -> None:
    """Before: a billion-laughs plan took 5.5 GB and 60 s, 200 levels a RecursionError,
    100,000 rules 94 s and 1.9 GB; each is now refused in one line before that work."""
    deep: object = {"type": "string"}
    for _ in range(200):
        deep = {"type": "object", "properties": {"x": deep}}
    many = {"rules": [{"type": "TRACK", "key": f"E{n}", "jsonSchema": {}}
                      for n in range(100_000)]}
    cases = {
        "laughs.yaml": (billion_laughs(9),
                        "YAML aliases expand to more than 2000000 values (the limit for a plan)"),
        "loop.yaml": ("events: &e {A: {properties: {x: *e}}}\n",
                      "line 1: a YAML alias contains itself"),
        "deep.json": (json.dumps({"events": {"A": {"properties": {"x": deep}}}}),
                      "nested more than 64 levels deep (the limit for a plan)"),
        "deep.yaml": ("x: " + "[" * 5000 + "]" * 5000 + "\n",
                      "nested more than 64 levels deep (the limit for a plan)"),
        "many.json": (json.dumps(many),
                      "100000 rules is over the limit of 2000 rules for a plan (Segment's own)"),
        "big.yaml": ("# " + "x" * (16 * 1024 * 1024) + "\nevents: {}\n",
                     "16777230 bytes is over the limit of 15728640 bytes (15 MB) for a plan"),
    }
    for name, (text, problem) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(PlanError) as caught:  # refused before the costly work (no timing
            load_plan(path)                        # here: figures live in the closing notes)
        assert caught.value.message == f"tracking plan {path}: {problem}"


async def test_a_message_too_deep_to_check_gets_a_violation_not_an_error(
    mock_url: str, token: str, http: ClientSession
) -> None:
    plan = plan_from_data({"events": {"A": {"properties": {
        "x": {"type": "array", "uniqueItems": True}}}}})
    deep: object = []
    for _ in range(450):
        deep = [deep]
    async with run_gateway(mock_url, token, plan=plan) as gateway:
        message = {"type": "track", "messageId": "deep", "userId": "u_1", "event": "A",
                   "properties": {"x": [deep, deep]}}
        assert await post(http, f"{gateway}/v1/track", message) == (200, {"success": True})
        status, listed = await get(http, f"{gateway}/_gateway/violations")
        assert status == 200
        assert [(v["kind"], v["path"], v["message"]) for v in listed["violations"]] == [
            ("invalid_value", "", "the message is nested too deeply to be checked against the "
             "tracking plan")]
