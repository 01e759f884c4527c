"""Every example in README.md and docs/*.md runs here, against a real mock, and gives what the
document shows (tests/helpers/readme_examples.py finds each by name, wherever it lives)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver.http.server import BackgroundServer
from tests.helpers.paths import ROOT
from tests.helpers.readme_examples import DOCUMENTS, EXAMPLES, SITES, WHERE

README_URL = "http://127.0.0.1:8787"
ANY = "__ANY__"


def test_every_code_example_in_the_readme_is_exercised() -> None:
    """Across README.md and docs/*.md: every fenced block with a language is a named example
    (or one of the outlines below), each name is used once, and each one runs in a test."""
    fenced = {document: len(re.findall(r"^```\w+\n", text, re.M))
              for document, text in DOCUMENTS.items()}
    marked = Counter(document for _, document in SITES)
    outlines = {
        "README.md": 1,  # `make demo` / `make test`: test_quick_start_demo and CI itself
        "docs/review.md": 1,  # capture → snapshot → replay, with `…` placeholders: tests/review/
        "docs/container.md": 1,  # `docker run` per role: tests/container/test_image.py runs them
        # coverage's table, its JUnit suite, plan infer's steps: tests/plans/test_coverage.py,
        # tests/e2e/test_gateway_coverage.py, tests/e2e/test_plan_infer_gateway.py
        "docs/tracking-plans.md": 3,
    }
    assert fenced == {document: marked[document] + outlines.get(document, 0)
                      for document in DOCUMENTS}
    names = [name for name, _ in SITES]
    assert sorted(names) == sorted(set(names)), "an example name is used twice"
    exercised = {"serve", "curl", "curl-error", "curl-wait", "event", "pytest-plugin", "connector",
                 "gateway", "gateway-sdk", "audiences", "snippet", "playwright", "export",
                 "export-tinydb", "tracking-plan", "segment-gateway",
                 "install", "ci-services", "ci-action"}
    # install: tests/packaging/test_wheel_install.py; ci-*: tests/container/test_recipes.py
    assert set(EXAMPLES) == exercised
    assert WHERE == {
        "serve": "README.md", "curl": "README.md", "pytest-plugin": "README.md",
        "gateway": "README.md", "gateway-sdk": "README.md", "snippet": "README.md",
        "tracking-plan": "README.md", "segment-gateway": "README.md", "install": "README.md",
        "ci-services": "docs/container.md", "ci-action": "docs/container.md",
        "export": "docs/mock.md", "export-tinydb": "docs/mock.md", "curl-error": "docs/mock.md",
        "event": "docs/mock.md", "curl-wait": "docs/inspection-api.md",
        "connector": "docs/connector.md", "playwright": "docs/connector.md",
        "audiences": "docs/connector.md",
    }


@pytest.fixture
def live_mock() -> Iterator[str]:
    with BackgroundServer() as server:
        yield server.url


def _commands(block: str) -> list[tuple[str, str]]:
    """Split a shell example into (command, expected output shown in its comments)."""
    pairs: list[tuple[str, str]] = []
    command: list[str] = []
    expected: list[str] = []
    for line in block.splitlines():
        if line.startswith("#  ") and expected:
            expected[-1] += " " + line[3:].strip()
        elif line.startswith("# ") and command:
            expected.append(line[2:].strip())
        elif line.startswith("#") or not line.strip():
            continue
        else:
            if command and expected:
                pairs.append((" ".join(command), " ".join(expected)))
                command, expected = [], []
            command.append(line.rstrip("\\").strip())
            if line.endswith("\\"):
                continue
    if command:
        pairs.append((" ".join(command), " ".join(expected)))
    return pairs


def _matches(actual: Any, expected: Any) -> bool:
    if expected == ANY or expected == [ANY]:
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and actual.keys() == expected.keys() and all(
            _matches(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)


def _run_shell_example(name: str, url: str) -> list[Any]:
    outputs = []
    for command, expected in _commands(EXAMPLES[name]):
        result = subprocess.run(["bash", "-c", command.replace(README_URL, url)],
                                capture_output=True, text=True, check=True, timeout=30)
        actual = json.loads(result.stdout)
        want = json.loads(expected.replace("[...]", f'"{ANY}"'))
        assert _matches(actual, want), f"{command}\n  README shows {want}\n  got {actual}"
        outputs.append(actual)
    return outputs


def test_curl_examples_answer_what_the_readme_shows(live_mock: str) -> None:
    sent_viewed, sent_identify, actor = _run_shell_example("curl", live_mock)
    assert [e["id"] for e in actor["events"]] == [sent_viewed["id"], sent_identify["id"]]
    (error,) = _run_shell_example("curl-error", live_mock)
    assert error["error"]["details"]["violations"][0]["path"] == "$.eventTime"
    (waited,) = _run_shell_example("curl-wait", live_mock)
    assert [e["event"]["eventType"] for e in waited["events"]] == ["Product Viewed", "identify"]


def test_the_event_example_is_accepted(live_mock: str) -> None:
    event = EXAMPLES["event"]
    result = subprocess.run(
        ["curl", "-s", "-w", " %{http_code}", f"{live_mock}/event", "-H", "apiToken: readme",
         "-H", "Content-Type: application/json",
         "-d", event], capture_output=True, text=True, check=True, timeout=30)
    body, status = result.stdout.rsplit(" ", 1)
    assert status == "202"
    assert json.loads(body)["duplicate"] is False


def test_serve_example_starts_a_durable_mock(tmp_path: Path) -> None:
    command = EXAMPLES["serve"].strip().replace(".venv/bin/pointillist-mock", "")
    args = command.replace("--port 8787", "--port 0").replace("./events.journal",
                                                                str(tmp_path / "events.journal"))
    process = subprocess.Popen([sys.executable, "-m", "mockserver", *args.split()],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"pointillist-mock listening on (http://127\.0\.0\.1:\d+) \(", line)
        assert match, line
        subprocess.run(["curl", "-sf", f"{match.group(1)}/event", "-H", "apiToken: t",
                        "-H", "Content-Type: application/json", "-d",
                        EXAMPLES["event"]], check=True, capture_output=True, timeout=30)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
    header, *records = (tmp_path / "events.journal").read_text().splitlines()
    assert json.loads(header[9:])["format"] == "pointillist-mock-record"  # after the CRC
    assert len(records) == 1
    assert json.loads(records[0][9:])["docs"][0]["event"] == json.loads(EXAMPLES["event"])


def test_export_examples_write_and_read_a_tinydb_file(tmp_path: Path) -> None:
    db = tmp_path / "events.journal"
    process = subprocess.Popen([sys.executable, "-m", "mockserver", "--port", "0", "--db",
                                str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+) ", process.stdout.readline())
        assert match
        example = json.loads(EXAMPLES["event"])
        for event in ({**example, "eventType": "Product Viewed",
                       "actors": {"Customer": {"anonymousId": "a_9"}}},
                      {**example, "eventType": "Order Completed",
                       "actors": {"Customer": {"userId": "u_1"}}}):
            subprocess.run(["curl", "-sf", f"{match.group(1)}/event", "-H", "apiToken: my-token",
                            "-H", "Content-Type: application/json", "-d", json.dumps(event)],
                           check=True, capture_output=True, timeout=30)
        (command, shown), = _commands(EXAMPLES["export"])
        venv_bin = str(Path(sys.executable).parent) + "/"
        result = subprocess.run(command.replace(".venv/bin/", venv_bin).split(), cwd=tmp_path,
                                capture_output=True, text=True, check=True, timeout=30)
        assert result.stdout.strip() == shown
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
    code, printed = EXAMPLES["export-tinydb"].split("\n# ")
    output = io.StringIO()
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(code, WHERE["export-tinydb"], "exec"), {})  # as a user runs it
    finally:
        os.chdir(cwd)
    assert output.getvalue() == printed


def test_tracking_plan_examples_plan_and_fixture(pytester: pytest.Pytester) -> None:
    """The short-form plan loads, and the fixture example passes with it as the plan."""
    from connector.plans import load_plan

    plan_path = pytester.path / "plan.yaml"
    plan_path.write_text(EXAMPLES["tracking-plan"], encoding="utf-8")
    assert load_plan(plan_path).name == "Shop"
    pytester.makepyfile(test_readme_fixture=EXAMPLES["segment-gateway"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider",
                                           f"--segment-tracking-plan={plan_path}")
    result.assert_outcomes(passed=1)


def test_pytest_plugin_example_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_readme_example=EXAMPLES["pytest-plugin"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def _medium_demo_lines() -> list[str]:
    """What `make demo` must print, worked out from fixtures/medium.jsonl and
    fixtures/audiences.yaml: the summary table (SDK calls by type, the gateway's counters, the
    mock's events by type and actors, skipped calls, audience transitions), the three users with
    the most devices (anonymousIds an identify linked to them; ties: more events, then userId)
    with their stitched actor, and the dashboard link; between them, the tracking plan's
    findings. The Engage syncs (daily, across the scenario) come from the simulator's own
    replay, which tests/e2e/test_engage_e2e.py proves."""
    from connector import Mapped, map_message
    from connector.engage.definitions import load_definitions
    from connector.engage.schedule import replay
    from connector.engage.simulator import EngageSimulator

    lines = (ROOT / "fixtures" / "medium.jsonl").read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line) for line in lines]
    definitions = load_definitions(ROOT / "fixtures" / "audiences.yaml")
    engage = replay(EngageSimulator(definitions), messages, timedelta(days=1)).outgoing
    kept = [m for m in messages if m["type"] in ("identify", "track")]  # the rest are skipped
    owner = {m["anonymousId"]: m["userId"] for m in kept
             if m["type"] == "identify" and m.get("userId") and m.get("anonymousId")}

    def actor_of(m: dict[str, Any]) -> str:
        return m.get("userId") or owner.get(m["anonymousId"]) or "anonymousId:" + m["anonymousId"]

    events: dict[str, list[dict[str, Any]]] = {}
    for m in kept + engage:
        events.setdefault(actor_of(m), []).append(m)
    users = [actor for actor in events if not actor.startswith("anonymousId:")]
    devices = {user: sorted(a for a, u in owner.items() if u == user) for user in users}
    shown = sorted(users, key=lambda u: (-len(devices[u]), -len(events[u]), u))[:3]

    calls = Counter(m["type"] for m in messages)
    types = Counter("identify" if m["type"] == "identify" else m["event"] for m in kept + engage)
    audiences = [a.key for a in definitions.audiences]
    flags = Counter((key, m["traits"][key]) for m in engage for key in audiences
                    if key in m["traits"])
    table = [("SDK calls", kind, n) for kind, n in sorted(calls.items())]
    table += [("gateway", "received", len(messages) + len(engage)),
              ("gateway", "delivered", len(kept) + len(engage)),
              ("gateway", "skipped", len(messages) - len(kept)), ("gateway", "dropped", 0),
              ("gateway", "deadLettered", 0)]
    table += [("mock events", kind, n) for kind, n in sorted(types.items())]
    table += [("mock actors", "all", len(events)),
              ("mock actors", "stitched", sum(1 for u in users if devices[u])),
              ("skipped calls", "unsupported_message_type", len(messages) - len(kept))]
    table += [(f"audience {flag}", key, flags[key, value])
              for key in audiences for flag, value in (("entered", True), ("left", False))]
    width = max(len(detail) for _, detail, _ in table)
    expected = [f"{'what':<18} {'detail':<{width}} {'count':>6}"]
    expected += [f"{what:<18} {detail:<{width}} {n:>6}" for what, detail, n in table]
    # fixtures/tracking-plan.yaml plans `coupon` as a string; the scenario sends null when an
    # order has none: the only violations (Engage's identifies are not SDK calls, not checked).
    no_coupon = [m for m in messages if m.get("event") == "Order Completed"
                 and "coupon" in m["properties"] and m["properties"]["coupon"] is None]
    expected += [
        f"tracking plan PointShop (fixtures/tracking-plan.yaml): {len(no_coupon)} violation(s) "
        f"in {len(no_coupon)} message(s)",
        f"  {len(no_coupon):>5} x 'Order Completed' invalid_type properties.coupon, e.g. "
        "properties.coupon: Invalid type. Expected: string, given: null",
    ]
    expected += _plan_coverage_lines(messages)
    for user in shown:
        labels: dict[str, Any] = {}
        numbers: dict[str, Any] = {}
        identifies = [map_message(m) for m in events[user] if m["type"] == "identify"]
        profile = [r.event for r in identifies if isinstance(r, Mapped)]
        for event in sorted(profile, key=lambda e: e["eventTime"]):  # stable: ties by arrival
            for key, value in event["labels"].items():
                numbers.pop(key, None)
                labels[key] = value
            for key, value in event["numbers"].items():
                labels.pop(key, None)
                numbers[key] = value
        anonymous = sum(1 for m in events[user] if not m.get("userId"))
        expected += [
            f"GET /_mock/actor?userId={user} -> the stitched actor",
            "  identifiers: " + json.dumps({"anonymousId": devices[user], "userId": [user]}),
            "  labels:      " + json.dumps(dict(sorted(labels.items())), ensure_ascii=False),
            "  numbers:     " + json.dumps(dict(sorted(numbers.items()))),
            f"  events:      {len(events[user])} ({anonymous} of them sent under an "
            "anonymousId only)",
        ]
    return expected


def _plan_coverage_lines(messages: list[dict[str, Any]]) -> list[str]:
    """The demo plan's coverage: every rule of fixtures/tracking-plan.yaml (read as data) met
    by the scenario's calls of its type and name; the scenario sends every planned property
    (the plan was written from it), so each row is full."""
    plan = yaml.safe_load((ROOT / "fixtures" / "tracking-plan.yaml").read_text())
    sent = Counter((m["type"], m.get("event") or m.get("name")) for m in messages)
    rows: list[tuple[str, int, int]] = []
    for section, kind in (("events", "track"), ("identify", "identify"), ("group", "group"),
                          ("pages", "page"), ("screens", "screen")):
        if section in ("identify", "group"):
            rows.append((f"{kind} v1", sent[kind, None], len(plan[section]["traits"])))
            continue
        for name in sorted(plan[section]):
            rows.append((f'{kind} "{name}" v1', sent[kind, name],
                         len(plan[section][name]["properties"])))
    width = max(len(label) for label, _, _ in rows)
    lines = ["coverage of the plan PointShop by the demo's traffic (GET /_gateway/coverage):",
             f"{'planned':<{width}}  messages  properties  never seen"]
    lines += [f"{label:<{width}}  {n:>8}  {f'{p}/{p}':>10}" for label, n, p in rows]
    planned = sum(p for _, _, p in rows)
    return [*lines, f"events {len(rows)}/{len(rows)} (100 %), properties {planned}/{planned} "
                    "(100 %)"]


def test_quick_start_demo() -> None:
    result = subprocess.run(["make", "-s", "demo", "ARGS=--no-wait"], cwd=ROOT,
                            capture_output=True, text=True, check=True, timeout=300)
    printed = [line for line in result.stdout.splitlines() if line.strip()]
    assert printed[0] == "sending fixtures/medium.jsonl through the Segment Python SDK"
    mock = re.fullmatch(r"mock listening on (http://127\.0\.0\.1:\d+)  \(token: demo-token\)",
                        printed[1])
    assert mock, printed[1]
    gateway = re.fullmatch(r"gateway listening on (http://127\.0\.0\.1:\d+)  \(Segment write "
                           r"key: demo-write-key; audiences of fixtures/audiences\.yaml synced "
                           r"every simulated day\)", printed[2])
    assert gateway, printed[2]
    assert printed[3:-1] == _medium_demo_lines()
    # --no-wait: both servers stop as the demo exits, so no link to them (they would be dead).
    assert printed[-1] == ("the dashboard and the shop stop with the demo: run it without "
                           "--no-wait to open them")


def test_connector_example_generates_the_medium_fixture_and_sends_it(
    live_mock: str, tmp_path: Path
) -> None:
    generate, send = [line.strip() for line in EXAMPLES["connector"].splitlines()
                      if line.startswith(".venv/")]
    venv_bin = str(Path(sys.executable).parent) + "/"
    subprocess.run(generate.replace(".venv/bin/", venv_bin).split(), cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    medium = (ROOT / "fixtures/medium.jsonl").read_bytes()
    assert (tmp_path / "traffic.jsonl").read_bytes() == medium
    result = subprocess.run(send.replace(".venv/bin/", venv_bin).replace(README_URL, live_mock)
                            .split(), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    shown = [line[2:] for line in EXAMPLES["connector"].splitlines() if line.startswith("# ")]
    assert result.stdout.splitlines()[: len(shown)] == shown


def test_gateway_examples_deliver_sdk_calls_to_the_mock(live_mock: str, tmp_path: Path) -> None:
    command = " ".join(line.rstrip("\\").strip() for line in EXAMPLES["gateway"].splitlines())
    args = (command.replace(".venv/bin/segment-connector ", "").replace("--port 8788", "--port 0")
            .replace(README_URL, live_mock).replace("./gateway.sqlite3",
                                                    str(tmp_path / "gateway.sqlite3")))
    process = subprocess.Popen([sys.executable, "-m", "connector.cli", *args.split()],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+) ", line)
        assert match, line
        code = EXAMPLES["gateway-sdk"].replace("http://127.0.0.1:8788", match.group(1))
        exec(compile(code, WHERE["gateway-sdk"], "exec"), {})  # as a user runs it
        wait = subprocess.run(
            ["curl", "-s", f"{live_mock}/_mock/events?min_count=2&timeout=10",
             "-H", "apiToken: my-token"], capture_output=True, text=True, check=True, timeout=30)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
    events = [item["event"] for item in json.loads(wait.stdout)["events"]]
    assert [(e["eventType"], e["actors"], e["labels"], e["numbers"]) for e in events] == [
        ("Product Viewed", {"Customer": {"anonymousId": "a_9"}}, {}, {"price": 49.5}),
        ("identify", {"Customer": {"userId": "u_1", "anonymousId": "a_9"}}, {"plan": "pro"}, {}),
    ]


def test_the_snippet_lines_are_those_of_the_shop_page_the_browser_tests_run() -> None:
    page = (ROOT / "connector" / "shop" / "index.html").read_text(encoding="utf-8")
    changed, cdn = EXAMPLES["snippet"].splitlines()
    assert changed in page.splitlines()
    assert cdn.replace('"http://127.0.0.1:8788"', '"__GATEWAY__"') in page.splitlines()


# pytest-playwright's `page` fixture as the README's example expects it, on Debian's Chromium
# (the project does not install pytest-playwright, whose browsers are downloads); every request
# the context makes must stay on 127.0.0.1.
PLAYWRIGHT_CONFTEST = """
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright


@pytest.fixture
def page():
    outside = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        context.on("request", lambda r: urlsplit(r.url).hostname == "127.0.0.1"
                   or outside.append(r.url))
        yield context.new_page()
        browser.close()
    assert outside == []
"""


def test_playwright_example_passes_against_the_shop(pytester: pytest.Pytester) -> None:
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    pytester.makeconftest(f"CHROMIUM = {str(CHROMIUM)!r}\nARGS = {CHROMIUM_ARGS!r}\n"
                          + PLAYWRIGHT_CONFTEST)
    pytester.makepyfile(test_site=EXAMPLES["playwright"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_audiences_example_loads_with_the_documented_keys(tmp_path: Path) -> None:
    from connector.engage.definitions import load_definitions

    path = tmp_path / "audiences.yaml"
    path.write_text(EXAMPLES["audiences"], encoding="utf-8")
    definitions = load_definitions(path)
    assert [(a.key, a.name) for a in definitions.audiences] == [
        ("order_completed_last_30days", "Order Completed Last 30days")]
    assert [t.key for t in definitions.traits] == ["orders_last_90_days"]


def test_every_test_the_readme_points_at_exists() -> None:
    """The guarantees (docs/reliability.md) name the tests that prove them; a renamed test must
    not leave a dead pointer ("::name" continues the file named before it, in one document)."""
    checked = 0
    for document, text in DOCUMENTS.items():
        current = None
        for path, name in re.findall(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", text):
            if path:
                current = ROOT / path
                assert current.is_file(), f"{document}: {path}"
            if name:
                assert current is not None, f"{document}: ::{name}"
                assert re.search(rf"def {name}\(", current.read_text(encoding="utf-8")), (
                    f"{document}: {current.relative_to(ROOT)}::{name}")
                checked += 1
    assert checked >= 15  # the regex still finds the pointers
