"""The store alone, in one process: the per-event cost of parse → validate → prepare → apply at
each size, without HTTP, the journal or the other processes of the machine in the way.

    python -m benchmarks.store_bench --levels 10000 100000 1000000 --window 20000 --rounds 5
        prints one JSON line: {"levels": [{"level", "usPerEvent", "rounds": [...]}, ...]}

Same events as the flat stage (benchmarks/fill.py), 1,000 per batch, and the same garbage
collector thresholds as `pointillist-mock serve`. Each round times `window` more events with
process CPU time; the figure is the mean of the rounds, so collector pauses count.
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from mockserver.__main__ import GC_MIDDLE, GC_OLDEST, GC_YOUNGEST
from mockserver.codec import parse_json
from mockserver.settings import Limits
from mockserver.state.store import Prepared, Store
from mockserver.validation.events import EventValidator

from . import fill


def measure(levels: list[int], window: int, rounds: int) -> list[dict[str, object]]:
    gc.set_threshold(GC_YOUNGEST, GC_MIDDLE, GC_OLDEST)
    validator = EventValidator(Limits())
    store = Store()

    def ingest(start: int, count: int) -> None:
        for body in fill.batches(start, count):
            items = []
            for event in parse_json(body):
                violations, normalized = validator.check(event)
                if normalized is None:
                    raise RuntimeError(f"the fill made an invalid event: {violations}")
                items.append((event, normalized))
            prepared = store.prepare("bench", items, "2026-11-28T10:00:00.000Z")
            assert isinstance(prepared, Prepared)  # no Idempotency-Key: never a replay
            store.apply(prepared)

    stored = 0
    out: list[dict[str, object]] = []
    for level in levels:
        ingest(stored, level - stored)
        stored = level
        costs = []
        for _ in range(rounds):
            started = time.process_time()
            ingest(stored, window)
            stored += window
            costs.append((time.process_time() - started) / window * 1e6)
        out.append({"level": level, "usPerEvent": sum(costs) / len(costs), "rounds": costs})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store_bench")
    parser.add_argument("--levels", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--window", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps({"levels": measure(args.levels, args.window, args.rounds)}), flush=True)


if __name__ == "__main__":
    main()
