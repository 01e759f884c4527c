"""Stitching at scale, in the store alone: N identifies joining N anonymousIds to one userId (one
user on N devices) against N identifies of N separate users. Target: the chain costs at most
2x the separate users, in CPU time and in memory, at N = 20,000.

    python -m benchmarks.stitch_bench --n 20000
        prints one JSON line: {"n", "chain": {"cpuSeconds", "rssMiB"}, "separate": {...},
        "cpuRatio", "rssRatio", "met"}

Each scenario runs in its own process (so memory figures do not mix): CPU time of the ingest
(process time) and the growth of the resident set over it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mockserver.settings import Limits
from mockserver.state.store import Prepared, Store
from mockserver.validation.events import EventValidator

A = "bench"
BATCH = 1000


def _rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


def _event(user: str, anonymous: str, n: int) -> dict[str, Any]:
    return {"eventSource": "Segment", "eventType": "identify",
            "eventTime": f"2026-11-28T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
            "actors": {"Customer": {"userId": user, "anonymousId": anonymous}},
            "labels": {"plan": "pro"}}


def run(scenario: str, n: int) -> dict[str, float]:
    validator = EventValidator(Limits())
    events = [_event("u" if scenario == "chain" else f"u{i}", f"a{i}", i) for i in range(n)]
    items = []
    for event in events:
        _, normalized = validator.check(event)
        assert normalized is not None
        items.append((event, normalized))
    store = Store()
    rss, cpu = _rss_mib(), time.process_time()
    for start in range(0, n, BATCH):
        prepared = store.prepare(A, items[start: start + BATCH], "2026-11-28T10:00:00.000Z")
        assert isinstance(prepared, Prepared)
        store.apply(prepared)
    actor = store.actor(A, ("Customer", "anonymousId", "a0"))  # one view, paged
    return {"cpuSeconds": time.process_time() - cpu, "rssMiB": _rss_mib() - rss,
            "actorBodyBytes": len(json.dumps(actor))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--scenario", choices=["chain", "separate"])
    args = parser.parse_args(argv)
    if args.scenario:
        print(json.dumps(run(args.scenario, args.n)))
        return 0
    figures = {}
    for scenario in ("chain", "separate"):
        out = subprocess.run([sys.executable, "-m", "benchmarks.stitch_bench", "--n",
                              str(args.n), "--scenario", scenario], check=True,
                             capture_output=True, text=True).stdout
        figures[scenario] = json.loads(out)
    cpu = figures["chain"]["cpuSeconds"] / figures["separate"]["cpuSeconds"]
    rss = max(figures["chain"]["rssMiB"], 1.0) / max(figures["separate"]["rssMiB"], 1.0)
    print(json.dumps({"n": args.n, **figures, "cpuRatio": round(cpu, 2),
                      "rssRatio": round(rss, 2), "met": cpu <= 2 and rss <= 2}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
