"""The image (Dockerfile) as a CI job in any language meets it: built with `make image`, run
with podman (host networking, tools/containers.conf), configured by environment variables (the
mock) and flags (the gateway). The README's pytest example runs against the containerised mock
with --pointillist-mock-url; the official Python and Node.js clients send to the containerised
gateway and read the containerised mock; `podman stop` (SIGTERM) exits 0 and loses nothing, as
a record and an outbox on a volume show after `podman run` again; the HEALTHCHECK turns healthy.
About 1 to 2 minutes with a built image, 3 to 4 more to build it (tests/README.md)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from segment.analytics import Client

from connector.gateway.settings import SOURCE_ANALYTICS_JS
from tests.container.podman import free_port, http, pod, podman
from tests.helpers.paths import ROOT
from tests.helpers.readme_examples import EXAMPLES

NODE_DIR = ROOT / "tests" / "sdk" / "node"
WRITE_KEY = "WK-container"
TOKEN = "tok-container"
HEALTHY_TIMEOUT = 60.0

pytestmark = pytest.mark.usefixtures("image")


def _events(port: int, token: str, count: int) -> list[dict[str, object]]:
    status, listed = http("GET", f"http://127.0.0.1:{port}/_mock/events?min_count={count}"
                          "&timeout=20&limit=1000", headers={"apiToken": token})
    assert (status, listed["minCountReached"], listed["total"]) == (200, True, count), listed
    return [stored["event"] for stored in listed["events"]]


def test_the_readme_plugin_example_runs_against_the_containerised_mock(tmp_path: Path) -> None:
    with pod() as containers:
        port = free_port()
        name = containers.mock(port)
        (tmp_path / "test_readme_example.py").write_text(EXAMPLES["pytest-plugin"])
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
             f"--pointillist-mock-url=http://127.0.0.1:{port}", "test_readme_example.py"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 passed" in result.stdout
        # Logs go to stdout: the start line, then a line per request (--log-level info).
        out, err = containers.logs(name)
        assert out.startswith(f"pointillist-mock listening on http://127.0.0.1:{port} "
                              "(store: in memory; tokens: any token)\n"), out
        assert "POST /event" in err and "Traceback" not in err


def test_the_python_sdk_feeds_the_containerised_gateway_and_mock() -> None:
    """The gateway configured by environment variables only, as a CI service container."""
    with pod() as containers:
        mock, gateway = free_port(), free_port()
        containers.mock(mock)
        containers.gateway(gateway, mock, TOKEN, WRITE_KEY, by_environment=True)
        client = Client(WRITE_KEY, host=f"http://127.0.0.1:{gateway}", sync_mode=True)
        moment = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
        client.identify(user_id="u_py", anonymous_id="a_py", traits={"plan": "pro", "seats": 3},
                        timestamp=moment, message_id="m-identify")
        client.track(user_id="u_py", event="Order Completed", properties={"revenue": 42.5},
                     timestamp=moment, message_id="m-track")
        events = _events(mock, TOKEN, 2)
        times = []
        for message_id in ("m-identify", "m-track"):
            status, stored = http("GET", f"http://127.0.0.1:{gateway}/_gateway/messages/"
                                  f"{message_id}")
            assert (status, stored["state"]) == (200, "delivered")
            times.append(stored["message"]["timestamp"])  # clock-skew corrected, as Segment does
        actors = {"Customer": {"userId": "u_py", "anonymousId": "a_py"}}
        assert sorted(events, key=lambda e: str(e["eventType"])) == [
            {"eventSource": "Segment", "eventType": "Order Completed", "eventTime": times[1],
             "actors": {"Customer": {"userId": "u_py"}}, "labels": {},
             "numbers": {"revenue": 42.5}},
            {"eventSource": "Segment", "eventType": "identify", "eventTime": times[0],
             "actors": actors, "labels": {"plan": "pro"}, "numbers": {"seats": 3}},
        ]


def test_sigterm_exits_0_and_the_record_and_outbox_survive_on_their_volume() -> None:
    with pod() as containers:
        data = containers.volume()
        mock, gateway = free_port(), free_port()
        # The gateway first, its destination down: the messages wait in its outbox on the volume.
        first = containers.gateway(gateway, mock, TOKEN, WRITE_KEY, volume=data)
        client = Client(WRITE_KEY, host=f"http://127.0.0.1:{gateway}", sync_mode=True)
        for n in range(3):
            client.track(user_id=f"u{n}", event="Signed Up", message_id=f"m-{n}")
        status, stats = http("GET", f"http://127.0.0.1:{gateway}/_gateway/stats")
        assert (status, stats["received"]) == (200, 3), stats
        assert containers.stop(first) == 0
        assert "Traceback" not in "".join(containers.logs(first))

        # The mock on the same volume, then the gateway again: it delivers what it kept.
        record = containers.mock(mock, volume=data)
        second = containers.gateway(gateway, mock, TOKEN, WRITE_KEY, volume=data)
        events = _events(mock, TOKEN, 3)
        assert sorted(str(e["eventType"]) + str(e["actors"]) for e in events) == [
            f"Signed Up{{'Customer': {{'userId': 'u{n}'}}}}" for n in range(3)]
        assert containers.stop(second) == 0

        # The record: acknowledged events are durable across `podman stop` + `podman run`.
        assert containers.stop(record) == 0
        again = containers.mock(mock, volume=data)
        assert _events(mock, TOKEN, 3) == events
        out, _ = containers.logs(again)
        assert out.startswith(f"pointillist-mock listening on http://127.0.0.1:{mock} (store: "
                              "/data/events.db; tokens: any token)\n"), out
        listing = podman("run", "--rm", "--network=host", "--volume", f"{data}:/data",
                         "--entrypoint", "ls", "localhost/pointillist-mock:dev", "/data")
        assert "outbox.sqlite3" in listing.stdout.split()


def test_the_healthcheck_turns_healthy_and_the_server_runs_as_a_user() -> None:
    with pod() as containers:
        mock, gateway = free_port(), free_port()
        for name in (containers.mock(mock), containers.gateway(gateway, mock, TOKEN, WRITE_KEY)):
            deadline = time.monotonic() + HEALTHY_TIMEOUT
            while (run := podman("healthcheck", "run", name, check=False)).returncode != 0:
                assert time.monotonic() < deadline, run.stdout + run.stderr
                time.sleep(0.2)  # the bounded poll's pace
            status = podman("inspect", "--format", "{{.State.Health.Status}}", name)
            assert status.stdout.strip() == "healthy"
            assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        checked = podman("exec", containers.names[1], "python3",
                         "/usr/local/bin/pointillist-healthcheck")
        assert checked.stdout == f"healthy: http://127.0.0.1:{gateway}/_gateway/health\n"


def test_the_demo_runs_in_the_container(image: str) -> None:
    demo = podman("run", "--rm", "--network=host", image, "demo", "--no-wait", timeout=300)
    assert "sending fixtures/medium.jsonl" in demo.stdout
    # --no-wait: the servers stop with the demo, so it prints no links that would be dead.
    assert demo.stdout.endswith("the dashboard and the shop stop with the demo: run it without "
                                "--no-wait to open them\n"), demo.stdout
    assert "Traceback" not in demo.stderr


@pytest.fixture(scope="module")
def node() -> str:
    """Node.js with @segment/analytics-node installed from tests/sdk/node's lock (as the e2e
    Node tests install it); fails, never skips, without node or npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the Node test needs node and npm: make system-test installs them",
                    pytrace=False)
    with (NODE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_DIR / "node_modules" / "@segment" / "analytics-node").is_dir():
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                                  capture_output=True, text=True, timeout=300, check=False)
            assert done.returncode == 0, done.stdout + done.stderr
    return node


def test_a_node_suite_sends_to_the_containerised_gateway_and_reads_the_mock(node: str) -> None:
    with pod() as containers:
        mock, gateway = free_port(), free_port()
        containers.mock(mock, tokens=TOKEN)
        containers.gateway(gateway, mock, TOKEN, WRITE_KEY)
        env = {**os.environ, "GATEWAY_URL": f"http://127.0.0.1:{gateway}",
               "MOCK_URL": f"http://127.0.0.1:{mock}", "WRITE_KEY": WRITE_KEY, "TOKEN": TOKEN}
        suite = subprocess.run([node, "ci_suite.mjs"], cwd=NODE_DIR, env=env,
                               capture_output=True, text=True, timeout=120, check=False)
        assert suite.returncode == 0, suite.stdout + suite.stderr
        events = json.loads(suite.stdout)
        assert sorted((e["eventType"], e["actors"], e["labels"], e["numbers"]) for e in events) == [
            ("Order Completed", {"Customer": {"userId": "u_node"}}, {}, {"revenue": 42.5}),
            ("identify", {"Customer": {"userId": "u_node", "anonymousId": "a_node"}},
             {"plan": "pro"}, {"seats": 3}),
        ]


def test_the_containerised_gateway_serves_analytics_js_from_the_wheel() -> None:
    """No npm in the image: the bundle and its lazy chunks come inside the wheel."""
    with pod() as containers:
        mock, gateway = free_port(), free_port()
        containers.mock(mock)
        containers.gateway(gateway, mock, TOKEN, WRITE_KEY, by_environment=True)
        chunk = next(SOURCE_ANALYTICS_JS.parent.glob("schemaFilter.bundle.*.js"))
        for path, source in ((f"/analytics.js/v1/{WRITE_KEY}/analytics.min.js",
                              SOURCE_ANALYTICS_JS),
                             (f"/analytics-next/bundles/{chunk.name}", chunk)):
            with urllib.request.urlopen(f"http://127.0.0.1:{gateway}{path}") as answer:
                assert (answer.status, answer.read()) == (200, source.read_bytes()), path
