"""Both commands as a user meets them: a wrong argument is one line and a non-zero exit, never a
traceback; a busy port is named; SIGINT and SIGTERM stop the servers with exit 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[2]
MOCK = [PYTHON, "-m", "mockserver"]
CONNECTOR = [PYTHON, "-m", "connector"]
GATEWAY = [*CONNECTOR, "gateway", "--pointillist-url", "http://127.0.0.1:9",
           "--pointillist-token", "t", "--outbox", ":memory:"]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def _one_line_failure(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for words in expected:
        assert words in lines[0]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def _bad_paths(tmp_path: Path) -> dict[str, str]:
    return {"dir": str(tmp_path), "orphan": str(tmp_path / "nowhere" / "x.journal"),
            "missing": str(tmp_path / "missing.yaml")}


MOCK_BAD = [
    (["--port", "99999"], "--port: must be from 0 to 65535"),
    (["--port", "65537"], "--port: must be from 0 to 65535"),
    (["--port", "-1"], "--port: must be from 0 to 65535"),
    (["--port", "http"], "--port: not a whole number"),
    (["--max-body-bytes", "-1"], "--max-body-bytes: must be at least 1"),
    (["--max-batch-events", "0"], "--max-batch-events: must be at least 1"),
    (["--max-name-length", "0"], "--max-name-length: must be at least 1"),
    (["--max-label-length", "x"], "--max-label-length: not a whole number"),
    (["--max-wait-seconds", "-1"], "--max-wait-seconds: must be a finite number at least 0"),
    (["--max-decompressed-bytes", "0"], "--max-decompressed-bytes: must be at least 1"),
    (["--max-connections", "0"], "--max-connections: must be at least 1"),
    (["--idle-timeout", "inf"], "--idle-timeout: must be a finite number more than 0"),
    (["--body-timeout", "0"], "--body-timeout: must be a finite number more than 0"),
    (["--db", "{dir}"], "is a directory"),
    (["--db", "{orphan}"], "does not exist; create it first"),
    (["--compact-bytes", "0"], "--compact-bytes: must be at least 1"),
    (["verify", "--db", "{missing}"], "does not exist"),
    (["repair", "--db", "{dir}"], "is a directory"),
    (["export", "--db", "{missing}", "--token", "t", "--out", "{orphan}"], "does not exist"),
    (["export", "--db", "{dir}", "--token", "t", "--out", "{orphan}"], "is a directory"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["demo", "--wait"], "unrecognized arguments: --wait"),
]


@pytest.mark.parametrize(("argv", "words"), MOCK_BAD, ids=[" ".join(a) for a, _ in MOCK_BAD])
def test_the_mock_refuses_a_bad_argument_in_one_line(
        tmp_path: Path, argv: list[str], words: str) -> None:
    paths = _bad_paths(tmp_path)
    result = _run([*MOCK, *(arg.format(**paths) for arg in argv)])
    assert result.returncode == 2
    _one_line_failure(result, words, "see pointillist-mock")
    assert not (tmp_path / "nowhere").exists()  # a missing folder is never created


GATEWAY_BAD = [
    (["--port", "70000"], "--port: must be from 0 to 65535"),
    (["--max-retries", "-1"], "--max-retries: must be at least 0"),
    (["--concurrency", "0"], "--concurrency: must be at least 1"),
    (["--dedup-window", "nan"], "--dedup-window: must be a finite number"),
    (["--max-connections", "0"], "--max-connections: must be at least 1"),
    (["--idle-timeout", "-5"], "--idle-timeout: must be a finite number more than 0"),
    (["--body-timeout", "x"], "--body-timeout: not a number"),
    (["--outbox", "{dir}"], "is a directory"),
    (["--outbox", "{orphan}"], "does not exist; create it first"),
    (["--definitions", "{missing}"], "does not exist"),
    (["--definitions", "{dir}"], "is a directory"),
    (["--sync-every", "soon"], "not an interval"),
]


@pytest.mark.parametrize(("argv", "words"), GATEWAY_BAD,
                         ids=[" ".join(a) for a, _ in GATEWAY_BAD])
def test_the_gateway_refuses_a_bad_argument_in_one_line(
        tmp_path: Path, argv: list[str], words: str) -> None:
    paths = _bad_paths(tmp_path)
    result = _run([*GATEWAY, *(arg.format(**paths) for arg in argv)])
    assert result.returncode == 2
    _one_line_failure(result, words)


@pytest.mark.parametrize("argv", [
    ["send", "nowhere.jsonl", "--url", "http://127.0.0.1:9", "--token", "t"],
    ["send", "-", "--url", "http://127.0.0.1:9", "--token", "t", "--concurrency", "0"],
    ["generate", "--seed", "1", "--users", "0", "--days", "1"],
    ["generate", "--seed", "-1", "--users", "1", "--days", "1"],
    ["audiences", "sync", "--definitions", "nowhere.yaml", "--traffic", "-", "--every", "1d"],
    ["nonsense"],
    [],
])
def test_the_connector_refuses_a_bad_argument_in_one_line(argv: list[str]) -> None:
    result = _run([*CONNECTOR, *argv])
    assert result.returncode == 2
    _one_line_failure(result, "segment-connector", "error:")


def test_a_busy_port_is_named_in_one_line(busy_port: int) -> None:
    for argv in ([*MOCK, "--port", str(busy_port)], [*GATEWAY, "--port", str(busy_port)]):
        result = _run(argv)
        assert result.returncode == 1
        _one_line_failure(result, f"port {busy_port} on 127.0.0.1 is already in use", "--port")


def test_an_unknown_host_is_one_line() -> None:
    _one_line_failure(_run([*MOCK, "--host", "no-such-host.invalid", "--port", "0"]),
                      "cannot listen on host 'no-such-host.invalid'")


@pytest.mark.parametrize("argv", [MOCK, CONNECTOR])
def test_version(argv: list[str]) -> None:
    result = _run([*argv, "--version"])
    assert result.returncode == 0
    assert result.stdout.split()[0] in ("pointillist-mock", "segment-connector")


def _help_lines(argv: list[str]) -> str:
    result = _run([*argv, "--help"])
    assert result.returncode == 0
    return result.stdout


@pytest.mark.parametrize("argv", [
    [*MOCK, "serve"], [*MOCK, "demo"], [*CONNECTOR, "gateway"], [*CONNECTOR, "send"],
    [*CONNECTOR, "generate"], [*CONNECTOR, "audiences", "sync"]])
def test_every_option_has_help(argv: list[str]) -> None:
    """Each option line of --help is followed by text (argparse leaves it bare otherwise)."""
    text = _help_lines(argv).split("options:", 1)[1]
    entries = [entry for entry in text.split("\n  -") if entry.strip()]
    for entry in entries:
        words = entry.split()
        assert len(words) > 2, f"no help for -{entry.strip()}"


def _serve_then_signal(argv: list[str], sig: signal.Signals) -> tuple[int, str, str]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # "... listening on http://..."
        assert "listening on http://127.0.0.1:" in first, first
        if argv[:3] == MOCK:  # and the dashboard's address
            first += process.stdout.readline()
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, first + out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("argv", [[*MOCK, "--port", "0"], [*GATEWAY, "--port", "0"]],
                         ids=["mock", "gateway"])
def test_a_signal_stops_a_server_cleanly(argv: list[str], sig: signal.Signals) -> None:
    code, _, err = _serve_then_signal(argv, sig)
    assert (code, "Traceback" in err) == (0, False), err


def test_serve_prints_a_dashboard_link_that_works() -> None:
    """No `?token=<your token>` placeholder (pasted, it opens an empty tenant named so): the
    page itself, which asks for the token."""
    _, out, _ = _serve_then_signal([*MOCK, "--port", "0"], signal.SIGTERM)
    url = out.split("listening on ", 1)[1].split()[0]
    assert out.splitlines()[1] == f"dashboard: {url}/  (enter the apiToken your client sends)"
    assert "token=" not in out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_waiting_demo_cleanly(sig: signal.Signals) -> None:
    """`make demo` under a supervisor: the demo serves until a signal, then stops with 0."""
    process = subprocess.Popen([*MOCK, "demo"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:  # the summary, then the line that says it now waits
            seen.append(line)
            if line.startswith("serving until Ctrl-C"):
                break
        assert seen[-1] == "serving until Ctrl-C\n", "".join(seen[-5:])
        process.send_signal(sig)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (process.returncode, "Traceback" in err) == (0, False), err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_an_interrupt_while_the_demo_sends_stops_it_at_once_with_130(
        sig: signal.Signals) -> None:
    """Ctrl-C while the fixtures go through the SDK: no hang (the replay's threads are not
    waited for), no traceback, exit 130, and neither server answers afterwards."""
    process = subprocess.Popen([*MOCK, "demo", "--no-wait"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        seen = [process.stdout.readline() for _ in range(3)]
        urls = [line.split("listening on ", 1)[1].split()[0] for line in seen[1:]]
        assert seen[2].startswith("gateway listening on "), seen
        process.send_signal(sig)  # the SDK replay starts right after this line
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert (process.returncode, err) == (130, "pointillist-mock demo: interrupted\n")
    assert "what " not in out  # stopped before the summary
    for url in urls:
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as probe:
            assert probe.connect_ex((host, int(port))) != 0, url


def test_a_missing_demo_extra_is_one_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A plugin user's light install has no Faker: `generate` names the extra to install
    instead of an ImportError (the module lookup is what a missing package changes)."""
    from connector import extras
    from connector.cli import main

    real = extras.find_spec
    monkeypatch.setattr(extras, "find_spec",
                        lambda name: None if name == "faker" else real(name))
    assert main(["generate", "--seed", "1", "--users", "1", "--days", "1"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", (
        "segment-connector generate: needs faker (the demo extra): "
        "pip install 'pointillist-mock[demo]'\n"))


def test_generate_warns_under_another_faker(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Another Faker release writes other bytes for the same seed: generate still runs, and
    says so once on stderr."""
    from connector import extras
    from connector.cli import main

    real = extras.metadata.version
    monkeypatch.setattr(extras.metadata, "version",
                        lambda name: "39.0.0" if name == "faker" else real(name))
    assert main(["generate", "--seed", "1", "--users", "1", "--days", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.err == (
        "segment-connector generate: warning: Faker 39.0.0 is installed; fixtures/ were "
        "written with Faker 40.63.0, so the same seed gives other names and places (pip "
        "install faker==40.63.0 for byte-identical output)\n")
    assert captured.out.count("\n") >= 1  # the traffic itself, on stdout


def test_validate_into_a_closed_pipe_ends_quietly() -> None:
    """`segment-connector validate ... | head -3`: the reader goes away; no BrokenPipeError
    traceback, the exit status a Unix tool ended by SIGPIPE has. Deterministic: the pipe's
    read end is closed before the command writes anything."""
    argv = [sys.executable, "-m", "connector", "validate", "fixtures/medium.jsonl", "--plan",
            "fixtures/tracking-plan.yaml"]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT, timeout=60, check=False)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")
    shell = subprocess.run(["bash", "-c", " ".join(argv) + " | head -3"], capture_output=True,
                           text=True, cwd=ROOT, timeout=60, check=False)
    assert shell.stderr == ""
    assert shell.stdout.splitlines()[0] == "plan PointShop: 3 track events, group, identify"
    assert len(shell.stdout.splitlines()) == 3
