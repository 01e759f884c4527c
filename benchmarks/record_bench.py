"""The record on disk: restart time beside ingest time, and the record's size.

For each level: a fresh durable mock on a fresh record is filled through its own POST /events
(the ingest time), stopped with SIGTERM (a compaction under way finishes first), and started
again on the record (the restart time: until it announces its URL, with every event loaded).
After the last level, the tenant is reset and the mock stopped: the record's size then is what
compaction leaves of it. Sizes count the record file and its snapshot.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from . import fill
from .harness import PYTHON, Server, http_json, split_cpus

TOKEN = "bench-token"
RESTART_TARGET = 0.25  # restart at most this times the ingest time, at the largest level


def record_bytes(db: Path) -> int:
    return db.stat().st_size + sum(p.stat().st_size
                                   for p in db.parent.glob(db.name + ".snapshot.*.json"))


def _mock(db: Path, cpus: set[int]) -> Server:
    return Server("mock", [PYTHON, "-m", "mockserver", "serve", "--port", "0", "--db", str(db)],
                  cpus=cpus)


def _stop(mock: Server, timeout: float = 900) -> None:
    """SIGTERM, and wait as long as a compaction of the whole record may take."""
    process = mock.process
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    if process.wait(timeout=timeout) != 0:
        raise RuntimeError(f"the mock exited with {process.returncode}:\n"
                           + "".join(mock.output[-30:]))


def measure(work: Path, levels: list[int]) -> list[dict[str, Any]]:
    server_cpus, _ = split_cpus()
    results: list[dict[str, Any]] = []
    for level in levels:
        db = work / f"record-{level}.journal"
        print(f"record: ingesting {level:,} events", flush=True)
        mock = _mock(db, server_cpus).start()
        try:
            started = time.perf_counter()
            fill.fill(mock.url, TOKEN, 0, level)
            ingest = time.perf_counter() - started
        finally:
            _stop(mock)
        size = record_bytes(db)
        started = time.perf_counter()
        again = _mock(db, server_cpus).start(timeout=900)
        restart = time.perf_counter() - started
        entry: dict[str, Any] = {"level": level, "ingestSeconds": ingest,
                                 "restartSeconds": restart, "recordBytes": size}
        try:
            stats = http_json("GET", again.url + "/_mock/stats", headers={"apiToken": TOKEN})
            if stats["events"] != level:
                raise RuntimeError(f"the restarted mock holds {stats['events']} events, not "
                                   f"{level}")
            entry["restartRss"] = again.memory()["rss"]
            if level == levels[-1]:
                http_json("POST", again.url + "/_mock/reset", headers={"apiToken": TOKEN})
        finally:
            _stop(again)
        if level == levels[-1]:
            entry["afterResetBytes"] = record_bytes(db)
        for path in db.parent.glob(db.name + "*"):
            path.unlink()
        print(f"  {level:,} events: ingest {ingest:.1f} s, restart {restart:.2f} s "
              f"({restart / ingest:.2f}x), record {size / 2**20:,.1f} MiB"
              + (f", {entry['afterResetBytes']:,} bytes after a reset"
                 if "afterResetBytes" in entry else ""), flush=True)
        results.append(entry)
    return results


def rows(add: Any, results: list[dict[str, Any]]) -> None:
    """The report's rows: `add(section, what, figure, ratio, target, met)`."""
    for entry in results:
        last = entry is results[-1]
        ratio = entry["restartSeconds"] / entry["ingestSeconds"]
        add("record", f"restart with {entry['level']:,} stored, beside their ingest",
            f"restart {entry['restartSeconds']:.2f} s; ingest through POST /events "
            f"{entry['ingestSeconds']:.1f} s; RSS after restart "
            f"{entry['restartRss'] / 2**20:,.0f} MiB",
            f"{ratio:.2f}x ingest", f"≤ {RESTART_TARGET}x ingest" if last else "",
            ratio <= RESTART_TARGET if last else None)
    last = results[-1]
    add("record", f"record size with {last['level']:,} stored (file + snapshot)",
        f"{last['recordBytes'] / 2**20:,.1f} MiB ({last['recordBytes'] / last['level']:,.0f} "
        "bytes/event)", "", "", None)
    add("record", f"record size after a reset of those {last['level']:,}",
        f"{last['afterResetBytes']:,} bytes", "", "a few KB", last["afterResetBytes"] < 16_384)
