"""The official @segment/analytics-node client (from the npm registry), pointed at the gateway.

`new Analytics({writeKey, host: <gateway URL>})` posts to {host}/v1/batch exactly as it posts to
Segment's cloud. It runs in the machine's Node.js (20 or newer): tests/sdk/node/send.mjs reads a
JSON list of calls on stdin, makes them, awaits `closeAndFlush()` and prints a report (every
request the client made, every answer, every error it emitted). The client is installed by the
session fixture `node_client` with `npm ci` from tests/sdk/node/package-lock.json (an exact
version); a machine without node or npm fails these tests, it never skips them.

identify and track are the golden cases `identify/node-client-shape.json` and
`track/node-client-shape.json`, played through the client: what the client sends must be the
case's input (absent fields omitted, Z timestamps, `_metadata`, the library and Node versions of
this machine), and what the mock stores must be the case's event, with eventTime the clock-skew
corrected timestamp (the gateway's clock is pinned far from the client's). page, screen, group
and alias get the client's own messageIds (`node-next-<epoch ms>-<uuid>`) and are skipped.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.contract.golden import GoldenCase, assert_same_json, load_cases
from tests.e2e.gateway_helpers import (
    by_json,
    counts,
    gateway_stats,
    get,
    mock_events,
    run_gateway,
)

Json = dict[str, Any]
NODE_DIR = Path(__file__).resolve().parents[1] / "sdk" / "node"
SEND = NODE_DIR / "send.mjs"
PACKAGE = "@segment/analytics-node"
MIN_NODE_MAJOR = 20  # the client's own "engines"
INSTALL_TIMEOUT = 300.0
RUN_TIMEOUT = 60.0

WRITE_KEY = "WK-node"
RECEIVED_AT = datetime(2030, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)  # the gateway's clock
CASES = {case.id: case for case in load_cases()}
IDENTIFY = CASES["identify/node-client-shape.json"]
TRACK = CASES["track/node-client-shape.json"]
SKIPPED_TYPES = ("page", "screen", "group", "alias")
ENRICHMENT = ("receivedAt", "sentAt", "originalTimestamp", "timestamp")
NODE_MESSAGE_ID = re.compile(
    r"node-next-\d{13}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- installing and running the client ----------------------------------------------------------


@dataclass(frozen=True)
class NodeClient:
    node: str  # the node executable
    version: str  # `node --version`, e.g. v20.20.2
    pinned: str  # the client version package-lock.json pins


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=NODE_DIR, capture_output=True, text=True,
                          timeout=timeout, check=False)


def _lock_packages() -> dict[str, Json]:
    lock = json.loads((NODE_DIR / "package-lock.json").read_text(encoding="utf-8"))
    packages: dict[str, Json] = lock["packages"]
    return {path: entry for path, entry in packages.items() if path}


def _missing_packages() -> list[str]:
    """The lock file's packages that node_modules lacks, or holds at another version."""
    missing = []
    for path, entry in _lock_packages().items():
        if entry.get("optional") or entry.get("link"):
            continue
        manifest = NODE_DIR / path / "package.json"
        try:
            version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
        except (OSError, ValueError):
            version = None
        if version != entry["version"]:
            missing.append(f"{path}@{entry['version']}")
    return missing


@pytest.fixture(scope="session")
def node_client() -> Iterator[NodeClient]:
    """Node.js and the pinned client, installed with `npm ci` unless node_modules already holds
    exactly the lock file's packages. Fails (never skips) when node or npm is missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            f"the Node SDK tests need Node.js >= {MIN_NODE_MAJOR} and npm on PATH "
            f"(node: {node or 'not found'}, npm: {npm or 'not found'}); install Node.js "
            f"{MIN_NODE_MAJOR} or newer with its npm (Debian 12's own nodejs package is 18, "
            "too old)", pytrace=False)
    version = _run([node, "--version"], 30).stdout.strip()
    found = re.fullmatch(r"v(\d+)\.\d+\.\d+.*", version)
    if found is None or int(found.group(1)) < MIN_NODE_MAJOR:
        pytest.fail(f"{PACKAGE} needs Node.js >= {MIN_NODE_MAJOR}; {node} is {version!r}",
                    pytrace=False)
    # One installer at a time (pytest-xdist workers share this folder).
    with (NODE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _missing_packages():
            done = _run([npm, "ci", "--no-audit", "--no-fund"], INSTALL_TIMEOUT)
            if done.returncode != 0:
                pytest.fail(f"`npm ci` in {NODE_DIR} failed ({done.returncode}):\n"
                            f"{done.stdout}\n{done.stderr}", pytrace=False)
            still = _missing_packages()
            if still:
                pytest.fail(f"`npm ci` in {NODE_DIR} left packages missing: {still}",
                            pytrace=False)
    yield NodeClient(node, version, _lock_packages()[f"node_modules/{PACKAGE}"]["version"])


async def send_with_node(
    client: NodeClient, host: str, calls: list[Json], write_key: str = WRITE_KEY,
    flush_at: int = 15,
) -> Json:
    """Make `calls` with the Node client against `host`; returns send.mjs's report."""
    process = await asyncio.create_subprocess_exec(
        client.node, str(SEND), "--host", host, "--write-key", write_key,
        "--flush-at", str(flush_at), cwd=NODE_DIR, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(
            process.communicate(json.dumps(calls).encode()), RUN_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    report: Json = json.loads(out)
    assert report["library"] == {"name": PACKAGE, "version": client.pinned}
    assert report["nodeVersion"] == client.version
    return report


# -- the calls ----------------------------------------------------------------------------------


def node_params(case: GoldenCase) -> Json:
    """The client parameters that make it send the case's input (it adds context.library,
    _metadata and, here, nothing else: the case's messageId and timestamp are given)."""
    message = case.message
    names = ("userId", "anonymousId", "event", "traits", "properties", "integrations",
             "timestamp", "messageId")
    params = {name: message[name] for name in names if name in message}
    context = {k: v for k, v in message["context"].items() if k != "library"}
    if context:
        params["context"] = context
    return params


CALLS: list[Json] = [
    {"method": "identify", "params": node_params(IDENTIFY)},
    {"method": "track", "params": node_params(TRACK)},
    {"method": "page", "params": {"anonymousId": "a1", "name": "Home",
                                  "properties": {"path": "/"}}},
    {"method": "screen", "params": {"userId": "u1", "name": "Cart"}},
    {"method": "group", "params": {"userId": "u1", "groupId": "g1",
                                   "traits": {"name": "Initech"}}},
    {"method": "alias", "params": {"previousId": "a1", "userId": "u1"}},
]


def sent_input(case: GoldenCase, report: Json) -> Json:
    """The case's input with this machine's client and Node versions (the case was written
    from 3.1.0 on v20.20.2)."""
    message = case.message
    return {**message,
            "context": {**message["context"], "library": report["library"]},
            "_metadata": {**message["_metadata"], "nodeVersion": report["nodeVersion"]}}


def millis(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def basic(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("flush_at", "requests"), [(15, 1), (1, 6)],
                         ids=["one-batch", "a-batch-per-call"])
async def test_the_node_client_reaches_the_gateway_and_its_events_the_mock(
    node_client: NodeClient, mock_url: str, token: str, http: ClientSession,
    flush_at: int, requests: int,
) -> None:
    async with run_gateway(mock_url, token, clock=lambda: RECEIVED_AT,
                           write_keys=frozenset({WRITE_KEY})) as gateway:
        report = await send_with_node(node_client, gateway, CALLS, flush_at=flush_at)

        # The client's side: every call sent, plain JSON (no gzip), Basic auth, all answered 200.
        assert report["errors"] == []
        assert report["responses"] == [{"status": 200, "statusText": "OK"}] * requests
        assert len(report["requests"]) == requests
        for request in report["requests"]:
            assert request["url"] == f"{gateway}/v1/batch"
            assert request["method"] == "POST"
            assert request["headers"] == {
                "Content-Type": "application/json", "User-Agent": "analytics-node-next/latest",
                "Authorization": basic(WRITE_KEY)}
            assert request["body"]["writeKey"] == WRITE_KEY
        sent = {item["messageId"]: (item, request["body"]["sentAt"])
                for request in report["requests"] for item in request["body"]["batch"]}
        assert len(sent) == 6

        assert await gateway_stats(http, gateway, delivered=2, skipped=4) == counts(
            received=6, delivered=2, skipped=4)
        expected_events = []
        for case in (IDENTIFY, TRACK):
            message_id = case.message["messageId"]
            item, sent_at = sent[message_id]
            assert_same_json(item, sent_input(case, report))  # the client sent the case's input
            status, stored = await get(http, f"{gateway}/_gateway/messages/{message_id}")
            assert (status, stored["state"], stored["error"]) == (200, "delivered", None)
            message = dict(stored["message"])
            received_at, stored_sent_at, original, corrected = (
                message.pop(k) for k in ENRICHMENT)
            # The gateway stored exactly what the client sent ...
            assert_same_json({**message, "timestamp": original}, sent_input(case, report))
            # ... plus what Segment's servers add: the batch's sentAt (Z, milliseconds, as the
            # client writes it), receivedAt, and the corrected timestamp.
            assert received_at == "2030-01-01T00:00:00.250Z"
            assert stored_sent_at == sent_at
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", sent_at), sent_at
            skew = (datetime.fromisoformat(sent_at) - datetime.fromisoformat(original))
            assert corrected == iso(millis(RECEIVED_AT) - skew)
            expected_events.append({**case.expected_event, "eventTime": corrected})

        assert_same_json(by_json(await mock_events(http, mock_url)), by_json(expected_events))

        generated = {item["type"]: message_id for message_id, (item, _) in sent.items()
                     if item["type"] in SKIPPED_TYPES}
        assert sorted(generated) == sorted(SKIPPED_TYPES)
        for kind, message_id in generated.items():
            assert NODE_MESSAGE_ID.fullmatch(message_id), message_id
            status, skipped = await get(http, f"{gateway}/_gateway/messages/{message_id}")
            assert (status, skipped["state"], skipped["error"]) == (200, "skipped", {
                "code": "unsupported_message_type",
                "message": "the Pointillist destination takes identify and track only",
                "details": {"type": kind}})
            assert skipped["message"]["type"] == kind
            assert skipped["message"]["_metadata"] == {
                "nodeVersion": node_client.version, "jsRuntime": "node"}


async def test_the_node_client_sees_the_gateways_401_as_a_failed_delivery(
    node_client: NodeClient, mock_url: str, token: str, http: ClientSession
) -> None:
    async with run_gateway(mock_url, token, write_keys=frozenset({WRITE_KEY})) as gateway:
        calls = [{"method": "track", "params": {"userId": "u1", "event": "Order Completed",
                                                "messageId": "m-1"}}]
        report = await send_with_node(node_client, gateway, calls, write_key="WK-wrong")

        assert [r["headers"]["Authorization"] for r in report["requests"]] == [
            basic("WK-wrong")]
        # A 401 is not retried; the client reports the status line, not the body.
        assert report["responses"] == [{"status": 401, "statusText": "Unauthorized"}]
        assert report["errors"] == [
            {"code": "delivery_failure", "reason": "[401] Unauthorized", "messageId": "m-1"}]
        assert await gateway_stats(http, gateway) == counts()


async def test_a_string_cut_inside_an_emoji_is_refused_not_delivered_as_a_replacement(
    node_client: NodeClient, mock_url: str, token: str, http: ClientSession
) -> None:
    # "😀".slice(0, 1) in JavaScript: a lone surrogate, which JSON.stringify escapes as \ud83d.
    # Segment's API rejects such text; the gateway says where it is and counts the refusal.
    cut = "😀".encode("utf-16-le", "surrogatepass")[:2].decode("utf-16-le", "surrogatepass")
    async with run_gateway(mock_url, token) as gateway:
        calls = [{"method": "track", "params": {
            "userId": "u1", "event": "Order Completed", "messageId": "m-cut",
            "properties": {"note": f"ok {cut}"}}}]
        report = await send_with_node(node_client, gateway, calls)

        # A 400 is not retried; the client reports the status line, not the body.
        assert report["responses"] == [{"status": 400, "statusText": "Bad Request"}]
        assert report["errors"] == [
            {"code": "delivery_failure", "reason": "[400] Bad Request", "messageId": "m-cut"}]
        assert await gateway_stats(http, gateway) == counts(loneSurrogatesRefused=1)
        assert await mock_events(http, mock_url) == []
