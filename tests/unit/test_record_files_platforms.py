"""Each platform's path through record/files.py, proven on Linux by simulating what the platform
lacks: macOS has no os.fdatasync (cpython#83821) and offers fcntl.F_FULLFSYNC; Windows has no
fcntl at all (its import fails), so the package must import without it and `--db` is refused
in one line."""

from __future__ import annotations

import ast
import errno
import fcntl
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mockserver.record import files

ROOT = Path(__file__).resolve().parents[2]
F_FULLFSYNC = 51  # macOS's value


class Calls:
    def __init__(self) -> None:
        self.made: list[tuple[str, int]] = []

    def recorder(self, name: str, error: int | None = None) -> Any:
        def call(fd: int, *args: Any) -> int:
            self.made.append((name, fd))
            if error is not None:
                raise OSError(error, os.strerror(error))
            return 0
        return call


def _as_macos(monkeypatch: pytest.MonkeyPatch, calls: Calls, error: int | None = None) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.delattr(os, "fdatasync")
    monkeypatch.setattr(fcntl, "F_FULLFSYNC", F_FULLFSYNC, raising=False)
    real = fcntl.fcntl
    full = calls.recorder("F_FULLFSYNC", error)

    def fake_fcntl(fd: int, command: int, *args: Any) -> Any:
        return full(fd) if command == F_FULLFSYNC else real(fd, command, *args)

    monkeypatch.setattr(fcntl, "fcntl", fake_fcntl)
    monkeypatch.setattr(os, "fsync", calls.recorder("fsync"))


def test_linux_flushes_with_fdatasync(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls()
    monkeypatch.setattr(os, "fdatasync", calls.recorder("fdatasync"))
    monkeypatch.setattr(os, "fsync", calls.recorder("fsync"))
    files.flush_file(7)
    files.fsync_file(8)
    assert calls.made == [("fdatasync", 7), ("fsync", 8)]


def test_macos_flushes_with_f_fullfsync(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls()
    _as_macos(monkeypatch, calls)
    files.flush_file(7)
    files.fsync_file(8)
    assert calls.made == [("F_FULLFSYNC", 7), ("F_FULLFSYNC", 8)]


def test_macos_falls_back_to_fsync_where_the_file_system_refuses_f_fullfsync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = Calls()
    _as_macos(monkeypatch, calls, error=errno.ENOTSUP)
    files.flush_file(7)
    assert calls.made == [("F_FULLFSYNC", 7), ("fsync", 7)]


def test_without_fdatasync_nor_f_fullfsync_it_is_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = Calls()
    monkeypatch.delattr(os, "fdatasync")
    monkeypatch.setattr(os, "fsync", calls.recorder("fsync"))
    files.flush_file(7)
    assert calls.made == [("fsync", 7)]


def test_a_mock_with_a_record_on_disk_works_without_fdatasync(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """Every write of a mock with --db failed on macOS: here the record is written, flushed with
    F_FULLFSYNC (which really fsyncs), and read back after a restart."""
    from mockserver.http.server import BackgroundServer
    from mockserver.settings import Settings

    real_fsync = os.fsync
    calls = Calls()
    _as_macos(monkeypatch, calls)
    monkeypatch.setattr(os, "fsync", real_fsync)
    event = {"eventType": "Signed Up", "eventTime": "2026-11-28T10:00:00Z",
             "actors": {"Customer": {"userId": "u_1"}}}
    db = str(tmp_path / "events.journal")
    for expected in (1, 2):
        with BackgroundServer(Settings(port=0, db=db)) as server:
            request = urllib.request.Request(
                f"{server.url}/event", data=json.dumps(event).encode(), method="POST",
                headers={"apiToken": "t", "Content-Type": "application/json",
                         "Idempotency-Key": f"k{expected}"})
            urllib.request.urlopen(request, timeout=30).close()
            stats = urllib.request.Request(f"{server.url}/_mock/stats",
                                           headers={"apiToken": "t"})
            with urllib.request.urlopen(stats, timeout=30) as response:
                assert json.loads(response.read())["events"] == expected
    assert ("F_FULLFSYNC" in {name for name, _ in calls.made}) is True


def test_fcntl_is_never_imported_at_module_top_in_mockserver() -> None:
    at_top = []
    for path in sorted((ROOT / "mockserver").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if "fcntl" in names:
                at_top.append(str(path.relative_to(ROOT)))
    assert at_top == []


WINDOWS = "import sys\nsys.modules['fcntl'] = None\n"  # `import fcntl` fails, as on Windows


def _as_windows(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WINDOWS + code, *args], capture_output=True,
                          text=True, timeout=120, check=False, cwd=ROOT)


def test_without_fcntl_db_is_refused_in_one_line(tmp_path: Path) -> None:
    result = _as_windows("from mockserver.__main__ import main\nraise SystemExit(main())",
                         "serve", "--port", "0", "--db", str(tmp_path / "events.journal"))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "pointillist-mock serve: error: argument --db: a record on disk needs file locking "
        "(fcntl), which this platform lacks: use --db :memory:; see pointillist-mock serve "
        "--help\n")
    assert list(tmp_path.iterdir()) == []


def test_without_fcntl_the_mock_gateway_and_fixtures_run_in_memory(tmp_path: Path) -> None:
    """The README's pytest examples (both fixtures: an in-memory mock, a gateway with a sqlite
    outbox in memory) pass in a process where fcntl cannot be imported."""
    from tests.helpers.readme_examples import EXAMPLES

    (tmp_path / "test_mock.py").write_text(EXAMPLES["pytest-plugin"], encoding="utf-8")
    (tmp_path / "test_gateway.py").write_text(EXAMPLES["segment-gateway"], encoding="utf-8")
    (tmp_path / "plan.yaml").write_text(EXAMPLES["tracking-plan"], encoding="utf-8")
    result = _as_windows(
        "import pytest\nraise SystemExit(pytest.main(sys.argv[1:]))", "-p", "no:cacheprovider",
        "-q", "--rootdir", str(tmp_path), "-c", os.devnull,
        f"--segment-tracking-plan={tmp_path / 'plan.yaml'}", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("2 passed")
