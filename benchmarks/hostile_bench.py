"""The `hostile` stage: what one tenant's or one user's misuse costs everyone else.

- stitching: N identifies joining N anonymousIds to one userId (one user on N devices) against N
  separate users, in the store alone (stitch_bench.py, one process each). Target: ≤ 2x, in CPU
  time and in memory, at N = 20,000.
- waits: another tenant's POST /event p99 under wrk, first alone, then while 100 filtered
  `GET /_mock/events?min_count=` waits sit on a tenant of 20,000 events that keeps receiving
  writes. Target: ≤ 2x the p99 without the waits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import threading
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from .fill import fill
from .harness import PYTHON, Server, WrkResult, split_cpus, wrk

WAITED = "bench-waited-tenant"
OTHER = "bench-other-tenant"
WAITS = 100
WAITED_EVENTS = 20_000
WRITES_PER_SECOND = 50


class Rows(Protocol):
    def add(self, section: str, what: str, figure: str, ratio: str = "", target: str = "",
            met: bool | None = None) -> None: ...


def stitching(report: Rows, raw: dict[str, Any], n: int) -> None:
    print(f"hostile: stitching, one user on {n:,} devices vs {n:,} users", flush=True)
    done = subprocess.run([PYTHON, "-m", "benchmarks.stitch_bench", "--n", str(n)],
                          capture_output=True, text=True, check=True, timeout=600)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    raw["stitching"] = result
    chain, separate = result["chain"], result["separate"]
    report.add("hostile", f"stitching: {n:,} identifies joining {n:,} anonymousIds to one user",
               f"{chain['cpuSeconds']:.2f} CPU s, +{chain['rssMiB']:.0f} MiB (separate users: "
               f"{separate['cpuSeconds']:.2f} s, +{separate['rssMiB']:.0f} MiB)",
               f"{result['cpuRatio']:.2f}x CPU, {result['rssRatio']:.2f}x memory",
               "≤ 2x separate users", result["cpuRatio"] <= 2 and result["rssRatio"] <= 2)


async def _waits_and_writes(url: str, ready: threading.Event, stop: threading.Event,
                            seconds: float) -> dict[str, int]:
    """WAITS filtered waits on the WAITED tenant (renewed as they time out) and a steady trickle
    of writes to it, until `stop`."""
    counts = {"waits": 0, "writes": 0}
    headers = {"apiToken": WAITED}
    query = (f"/_mock/events?eventType=Never%20Sent&min_count=1&timeout={seconds:g}"
             "&since=2026-01-01T00:00:00Z")
    async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=WAITS + 8)) as session:

        async def wait_forever() -> None:
            while not stop.is_set():
                async with session.get(url + query, headers=headers) as response:
                    response.raise_for_status()
                    await response.read()
                counts["waits"] += 1

        async def write_forever() -> None:
            n = 0
            while not stop.is_set():
                body = json.loads(_event(n))
                async with session.post(url + "/event", json=body, headers=headers) as response:
                    response.raise_for_status()
                n += 1
                counts["writes"] += 1
                await asyncio.sleep(1 / WRITES_PER_SECOND)  # the load's own pace

        tasks = [asyncio.create_task(wait_forever()) for _ in range(WAITS)]
        tasks.append(asyncio.create_task(write_forever()))
        await asyncio.sleep(0.5)  # a ramp: the waits reach the mock before the load is timed
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)  # polls a threading.Event, which cannot be awaited
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return counts


def _run_load(url: str, ready: threading.Event, stop: threading.Event, seconds: float,
              box: dict[str, dict[str, int]]) -> None:
    box["counts"] = asyncio.run(_waits_and_writes(url, ready, stop, seconds + 10))


def _event(n: int) -> str:
    return json.dumps({"eventSource": "Segment", "eventType": "Order Completed",
                       "eventTime": "2026-11-28T10:00:00.000Z",
                       "actors": {"Customer": {"userId": f"w{n % 500}"}}})


def waits(report: Rows, raw: dict[str, Any], work: Path, opts: argparse.Namespace) -> None:
    server_cpus, load_cpus = split_cpus()
    secs = opts.seconds
    env = {"BENCH_TOKEN": OTHER}
    print(f"hostile: another tenant's POST /event under {WAITS} waits on a "
          f"{WAITED_EVENTS:,}-event tenant", flush=True)
    # wrk's connections and the waits all come from 127.0.0.1: lift the per-client cap (64 by
    # default), which is there against one hostile client, not against this load generator.
    command = [PYTHON, "-m", "mockserver", "serve", "--port", "0", "--db",
               str(work / "hostile.record"), "--max-connections-per-client", "1000"]
    with Server("mock", command, cpus=server_cpus) as mock:
        fill(mock.url, WAITED, 0, WAITED_EVENTS)
        wrk(mock.url + "/event", "event.lua", min(2.0, secs), opts.connections, env, load_cpus)
        alone: list[WrkResult] = []
        loaded: list[WrkResult] = []
        counts: dict[str, int] = {}
        for _ in range(opts.rounds):  # interleaved, so a slow moment hits both alike
            alone.append(wrk(mock.url + "/event", "event.lua", secs, opts.connections, env,
                             load_cpus))
            ready, stop = threading.Event(), threading.Event()
            box: dict[str, dict[str, int]] = {}
            thread = threading.Thread(target=_run_load, args=(mock.url, ready, stop, secs, box))
            thread.start()
            try:
                ready.wait(30)
                loaded.append(wrk(mock.url + "/event", "event.lua", secs, opts.connections,
                                  env, load_cpus))
            finally:
                stop.set()
                thread.join()
            for name, value in box.get("counts", {}).items():
                counts[name] = counts.get(name, 0) + value
        p99_alone = min(r.p99_ms for r in alone)
        p99_loaded = min(r.p99_ms for r in loaded)
        ratio = p99_loaded / p99_alone if p99_alone else float("inf")
        raw["waits"] = {"p99AloneMs": p99_alone, "p99LoadedMs": p99_loaded,
                        "writesToWaitedTenant": counts.get("writes", 0), "waits": WAITS}
        report.add("hostile", f"another tenant's POST /event with {WAITS} filtered waits on a "
                   f"{WAITED_EVENTS:,}-event tenant receiving writes",
                   f"p99 {p99_loaded:.1f} ms (alone {p99_alone:.1f} ms; "
                   f"{counts.get('writes', 0)} writes to the waited tenant meanwhile)",
                   f"{ratio:.2f}x p99 alone", "≤ 2x", ratio <= 2)


def stage(report: Rows, raw: dict[str, Any], work: Path, opts: argparse.Namespace) -> None:
    stitching(report, raw, 5_000 if opts.quick else 20_000)
    waits(report, raw, work, opts)
