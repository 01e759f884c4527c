"""The core commands on a plain install: `send` and `audiences sync` run with none of the demo
extra's modules (rich, Faker, the Segment SDK) importable, and print no progress bar. The
extras are blocked in the child process (a None in sys.modules makes their import fail, as
on an install without them); tests/packaging/test_wheel_install.py runs the same commands
from a wheel installed without the extra."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.http.server import BackgroundServer

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ("rich", "faker", "segment")
RUN = ("import sys\n"
       f"sys.modules.update(dict.fromkeys({BLOCKED!r}))\n"
       "from connector.cli import main\n"
       "raise SystemExit(main(sys.argv[1:]))\n")


@pytest.fixture
def mock_url() -> Iterator[str]:
    with BackgroundServer() as server:
        yield server.url


def _connector(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)


def _events(url: str, token: str) -> int:
    import urllib.request

    request = urllib.request.Request(f"{url}/_mock/stats", headers={"apiToken": token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())["events"])


def test_send_runs_without_rich(mock_url: str) -> None:
    result = _connector("send", "fixtures/small.jsonl", "--url", mock_url, "--token", "plain")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0] == "outcome  reason                   messages"
    sent = int(lines[1].split()[-1])
    assert _events(mock_url, "plain") == sent


def test_audiences_sync_delivers_without_rich(mock_url: str) -> None:
    result = _connector("audiences", "sync", "--definitions", "fixtures/audiences.yaml",
                        "--traffic", "fixtures/small.jsonl", "--every", "1d", "--url", mock_url,
                        "--token", "plain")
    assert (result.returncode, result.stderr) == (0, "")
    sent = next(line for line in result.stdout.splitlines() if line.startswith("sent "))
    assert int(sent.split()[-1]) > 0
    assert _events(mock_url, "plain") == int(sent.split()[-1])
