"""Where the CPU time of one `POST /event` goes: the mock under cProfile, driven by wrk.

`python -m benchmarks.profile_event [--seconds 5]` (or `make bench ARGS="--only profile"`)
starts a durable mock whose event-loop thread is profiled, posts `event.lua`'s events for the
given time, stops it (SIGTERM, so the profile is written) and sums each function's own time into
the stages of the hot path, as CPU µs per request and shares. cProfile slows every Python call
by about the same factor, so the shares are the figure to read; the absolute µs are inflated.
The journal's writer thread (write + fdatasync) is not on the event loop and is not in the
profile: its cost is the hand-off seen from the loop (futures, call_soon_threadsafe).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import Server, have_wrk, split_cpus, wrk

# (stage, needles): a function belongs to the first stage one of whose needles is in its file
# path or `file:function` text. Order matters: specific before generic.
STAGES: Sequence[tuple[str, tuple[str, ...]]] = (
    ("guard and middlewares", ("httpkit/guard", "http/middlewares", "httpkit/rendering",
                               "web_middlewares")),
    ("body reading", ("httpkit/bodies", "httpkit/inflation", "streams.py", "web_request")),
    ("JSON parse", ("mockserver/codec", "orjson", "json/decoder", "json/__init__")),
    ("validation", ("mockserver/validation", "jsonschema_rs", "mockserver/times")),
    ("fault lookup", ("http/faults", "mockserver/faults")),
    ("journal hand-off (loop side)", ("record/journal", "record/format", "concurrent/futures",
                                      "threading.py", "queue.py", "zlib", "_queue.SimpleQueue")),
    ("store apply, index, identity", ("state/",)),
    ("waits", ("service/waits",)),
    ("live feed", ("http/stream",)),
    ("write path (service, handler)", ("service/events", "http/handlers", "http/parsing",
                                       "http/rejections", "http/keys", "mockserver/settings",
                                       "_hashlib")),
    ("response JSON", ("json/encoder",)),
    ("connection gate", ("httpkit/connections",)),
    ("record compaction", ("record/compaction", "record/snapshot")),
    ("aiohttp: HTTP parse, routing, response", ("aiohttp/", "multidict", "yarl")),
    ("event loop and asyncio", ("asyncio/", "uvloop", "selectors", "socket", "_asyncio",
                                "_weakrefset", "inspect.py")),
)
OTHER = "other"


def stage_of(path: str, function: str) -> str:
    text = f"{path}:{function}"
    for stage, needles in STAGES:
        if any(needle in text for needle in needles):
            return stage
    return OTHER


def breakdown(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time by stage. O(profiled functions)."""
    totals: dict[str, float] = {}
    for (path, _, function), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]  # tottime
        stage = stage_of(path, function)
        totals[stage] = totals.get(stage, 0.0) + own
    return totals


def serve(argv: Sequence[str]) -> int:
    """The profiled mock: `serve --db FILE --out FILE.prof` (SIGTERM stops it and writes)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    from mockserver.__main__ import main

    # The loop thread's CPU time, not wall time: a wall clock would count the moments the loop
    # waits for the GIL while the journal's thread holds it as the work of whatever it called.
    profile = cProfile.Profile(time.thread_time)
    # Started by SIGUSR1 once the mock serves and wrk has warmed it: start-up is not the work.
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    try:
        return main(["serve", "--port", "0", "--db", args.db])
    finally:
        profile.disable()
        profile.dump_stats(args.out)


def run(seconds: float, connections: int, work: Path, batch: int = 0
        ) -> tuple[pstats.Stats, int]:
    """(the profile, requests) of one profiled wrk run: POST /event, or POST /events with
    `batch` events a request."""
    server_cpus, load_cpus = split_cpus()
    out = work / "event.prof"
    command = [sys.executable, "-m", "benchmarks.profile_event", "serve",
               "--db", str(work / "profile.journal"), "--out", str(out)]
    env = {"BENCH_TOKEN": "profile-token", "BENCH_BATCH": str(batch)}
    path, script = ("/events", "batch.lua") if batch else ("/event", "event.lua")
    with Server("profiled mock", command, cpus=server_cpus) as mock:
        wrk(mock.url + path, script, 1.0, connections, env, load_cpus)  # warm-up
        os.kill(mock.pid, signal.SIGUSR1)
        time.sleep(0.2)  # the signal is handled between two bytecodes of the loop thread
        result = wrk(mock.url + path, script, seconds, connections, env, load_cpus)
    return pstats.Stats(str(out)), result.requests


def others(stats: pstats.Stats, most: int) -> list[str]:
    """The `most` costliest functions no stage claims, to keep STAGES honest."""
    rows = [(row[2], f"{path}:{function}") for (path, _, function), row in
            stats.stats.items() if stage_of(path, function) == OTHER]  # type: ignore[attr-defined]
    return [f"  {seconds:8.3f} s  {name}" for seconds, name in sorted(rows, reverse=True)[:most]]


def table(totals: dict[str, float], requests: int) -> list[str]:
    whole = sum(totals.values())
    lines = [f"{'stage':42} {'µs/request':>11} {'share':>7}"]
    for stage, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        lines.append(f"{stage:42} {seconds / requests * 1e6:11.1f} {seconds / whole:7.1%}")
    lines.append(f"{'total (under cProfile)':42} {whole / requests * 1e6:11.1f} {1:7.1%}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        return serve(args[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_event")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch", type=int, default=0, metavar="N",
                        help="POST /events with N events a request instead of POST /event")
    parser.add_argument("--others", type=int, default=0, metavar="N",
                        help="also list the N costliest functions no stage claims")
    opts = parser.parse_args(args)
    if not have_wrk():
        print("profile_event: needs wrk (apt-get install -y wrk)", file=sys.stderr)
        return 2
    base = os.environ.get("BENCH_TMP", "/var/tmp")
    with tempfile.TemporaryDirectory(dir=base) as work:
        stats, requests = run(opts.seconds, opts.connections, Path(work), opts.batch)
    what = f"POST /events ({opts.batch} events a request)" if opts.batch else "POST /event"
    print(f"{what} under cProfile: {requests:,} requests")
    print("\n".join(table(breakdown(stats), requests)))
    if opts.others:
        print("\n".join(others(stats, opts.others)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
