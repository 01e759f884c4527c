"""Processes under test and the load generator: start, pin, measure, stop.

Every server runs as its own process, pinned to the same CPU set (SERVER_CPUS); the load
generator (wrk, one thread) runs pinned to the other core, so on a 2-core machine the server
under test gets one whole core and the load generator never competes with it.
"""

from __future__ import annotations

import json
import os
import platform
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
WRK_DIR = BENCH / "wrk"
PYTHON = sys.executable
LISTENING = re.compile(r"listening on (http://\S+)")


def cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def split_cpus() -> tuple[set[int], set[int]]:
    """(server CPUs, load-generator CPUs): the last core drives load, the others serve."""
    available = cpus()
    if len(available) < 2:
        return set(available), set(available)
    return set(available[:-1]), {available[-1]}


def machine() -> dict[str, Any]:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    server, load = split_cpus()
    return {
        "cores": len(cpus()), "cpu": model, "memoryGiB": round(memory_kb / 2**20, 1),
        "python": platform.python_version(), "kernel": platform.release(),
        "serverCpus": sorted(server), "loadCpus": sorted(load),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pinned(cpu_set: set[int] | None) -> Callable[[], None] | None:
    if not cpu_set:
        return None
    chosen = set(cpu_set)

    def pin() -> None:  # in the child, before exec: every thread it starts inherits this
        os.sched_setaffinity(0, chosen)

    return pin


@dataclass
class Server:
    """A server process whose stdout announces its URL (or that listens on a known port)."""

    name: str
    command: Sequence[str]
    cpus: set[int] | None = None
    url: str = ""
    cwd: Path = ROOT
    env: Mapping[str, str] | None = None
    ready_url: str | None = None  # poll this URL instead of reading an announcement
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    def start(self, timeout: float = 60.0) -> Server:
        env = {**os.environ, **(self.env or {})}
        self.process = subprocess.Popen(
            list(self.command), cwd=self.cwd, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, preexec_fn=_pinned(self.cpus),
            start_new_session=True,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self.url:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise RuntimeError(f"{self.name} did not start in {timeout:g} s:\n"
                                   + "".join(self.output[-30:]))
            if self.ready_url is not None:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited:\n" + "".join(self.output[-30:]))
                if _answers(self.ready_url):
                    parts = urlsplit(self.ready_url)
                    self.url = f"{parts.scheme}://{parts.netloc}"
                    break
                time.sleep(0.2)
                continue
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"{self.name} exited:\n" + "".join(self.output[-30:]))
            found = LISTENING.search(line)
            if found:
                self.url = found.group(1)
        return self

    def _pump(self, lines: queue.Queue[str | None]) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            if len(self.output) < 2000:
                self.output.append(line)
            lines.put(line)
        lines.put(None)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) in bytes, of the process and its children's sum."""
        total = {"rss": 0, "peak": 0}
        for pid in [self.pid, *_children(self.pid)]:
            try:
                text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("VmRSS:"):
                    total["rss"] += int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    total["peak"] += int(line.split()[1]) * 1024
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time the process (all its threads) has used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1]
        utime, stime = fields.split()[11:13]
        return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the whole group
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text(encoding="utf-8").split()
            for child in text:
                found.append(int(child))
                found.extend(_children(int(child)))
    except OSError:
        pass
    return found


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, with an error status: it is up
    except OSError:
        return False


# -- wrk ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def parse_wrk(output: str) -> WrkResult:
    """The WRK_JSON line the Lua scripts' done() prints."""
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line[len("WRK_JSON "):])
            return WrkResult(
                requests=data["requests"], seconds=data["duration_us"] / 1e6,
                non2xx=data["non2xx"],
                socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
                p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no WRK_JSON line:\n{output[-2000:]}")


def wrk(url: str, script: str, seconds: float, connections: int,
        env: Mapping[str, str] | None = None, cpus: set[int] | None = None,
        allow_errors: bool = False) -> WrkResult:
    """One wrk run (one thread) with a Lua script from benchmarks/wrk/."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(WRK_DIR / script), url]
    done = subprocess.run(
        command, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        preexec_fn=_pinned(cpus), timeout=seconds + 60, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    result = parse_wrk(done.stdout)
    if not allow_errors and (result.non2xx or result.socket_errors):
        raise RuntimeError(
            f"wrk against {url} saw {result.non2xx} non-2xx answers and "
            f"{result.socket_errors} socket errors; the figure would be meaningless")
    return result


def best(results: Sequence[WrkResult]) -> WrkResult:
    """The run with the highest rate: on a shared machine, interference only ever slows a run,
    so the best of a few is the closest to what the server itself can do."""
    return max(results, key=lambda result: result.rate)


def http_json(method: str, url: str, body: Any = None, headers: Mapping[str, str] | None = None,
              timeout: float = 120.0) -> Any:
    import urllib.request

    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")
