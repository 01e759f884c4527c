"""The gateway's two halves measured apart: ingest into the outbox, and delivery out of it.

ingest   wrk posts `/v1/batch` bodies of 100 track messages (benchmarks/wrk/segment_batch.lua)
         to a gateway whose destination refuses connections, so its worker only backs off and
         every CPU cycle of the gateway goes to accepting: a 200 means the whole batch is in the
         outbox, fsynced (WAL, synchronous=FULL).
drain    the outbox that ingest filled, copied once per delivery mode, under a fresh gateway that
         delivers to a real durable mock: the rate at which messages leave a full outbox,
         per-event POST /event (the real API) or the mock's POST /events extension.

No sleeps: the drain window is the gateway's own server-side wait (GET /_gateway/stats?
min_delivered=N&timeout=S), which returns when the outbox is empty or the window has passed.
"""

from __future__ import annotations

import shutil
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .harness import PYTHON, Server, WrkResult, best, free_port, http_json, wrk

WRITE_KEY = "bench-write-key"
BATCH = 100  # messages per /v1/batch body


def gateway(url: str, token: str, outbox: Path, cpus: set[int] | None,
            batch: bool = False) -> Server:
    command = [PYTHON, "-m", "benchmarks.connector_bench", "gateway", "--pointillist-url", url,
               "--token", token, "--outbox", str(outbox), "--write-key", WRITE_KEY]
    if batch:
        command.append("--batch")
    return Server("gateway", command, cpus=cpus)


def ingest(outbox: Path, token: str, seconds: float, rounds: int, connections: int,
           server_cpus: set[int], load_cpus: set[int]) -> dict[str, Any]:
    """Fill `outbox` through wrk; returns the best round and what the outbox then holds."""
    refused = f"http://127.0.0.1:{free_port()}"  # nobody listens: delivery only backs off
    runs: list[WrkResult] = []
    with gateway(refused, token, outbox, server_cpus) as server:
        target = server.url + "/v1/batch"
        env = {"BENCH_WRITE_KEY": WRITE_KEY, "BENCH_BATCH": str(BATCH)}
        wrk(target, "segment_batch.lua", min(2.0, seconds), connections,
            {**env, "BENCH_RUN": "warm"}, load_cpus)
        cpu = server.cpu_seconds()
        for n in range(rounds):
            runs.append(wrk(target, "segment_batch.lua", seconds, connections,
                            {**env, "BENCH_RUN": f"r{n}"}, load_cpus))
        cpu = server.cpu_seconds() - cpu
        stats = http_json("GET", server.url + "/_gateway/stats")
    sent = sum(run.requests for run in runs) * BATCH
    if stats["deduplicated"] or stats["dropped"] or stats["pending"] < sent:
        raise RuntimeError(f"ingest lost or merged messages: sent at least {sent}, {stats}")
    top = best(runs)
    # CPU time per message: what one core could take with nothing else on the machine.
    return {"cpuUsPerMessage": cpu / sent * 1e6, "requests": top.requests,
            "seconds": top.seconds, "rate": top.rate,
            "messagesPerSecond": top.rate * BATCH, "p50_ms": top.p50_ms, "p99_ms": top.p99_ms,
            "pending": stats["pending"], "outboxBytes": outbox.stat().st_size}


def drain(full: Path, work: Path, token: str, batch: bool, window: float) -> dict[str, Any]:
    """Deliver from a copy of the full outbox to a fresh durable mock for about `window`
    seconds (less when it empties first); returns the rate measured between two readings of
    the gateway's `delivered` counter."""
    suffix = "batch" if batch else "event"
    outbox = work / f"drain-{suffix}.sqlite3"
    shutil.copyfile(full, outbox)
    wal = full.with_name(full.name + "-wal")  # left only if the ingest gateway did not close
    if wal.exists():
        shutil.copyfile(wal, outbox.with_name(outbox.name + "-wal"))
    journal = work / f"drain-{suffix}.journal"
    mock_command = [PYTHON, "-m", "mockserver", "serve", "--port", "0", "--db", str(journal)]
    with Server("mock", mock_command) as mock, gateway(mock.url, token, outbox, None,
                                                       batch) as server:
        first = http_json("GET", server.url + "/_gateway/stats")
        started = time.perf_counter()
        cpu = {"gateway": server.cpu_seconds(), "mock": mock.cpu_seconds()}
        total = first["pending"] + first["delivered"]
        query = urllib.parse.urlencode({"min_delivered": total, "timeout": window})
        last = http_json("GET", f"{server.url}/_gateway/stats?{query}")
        seconds = time.perf_counter() - started
        cpu = {"gateway": server.cpu_seconds() - cpu["gateway"],
               "mock": mock.cpu_seconds() - cpu["mock"]}
        stored = http_json("GET", mock.url + "/_mock/stats", headers={"apiToken": token})
    delivered = last["delivered"] - first["delivered"]
    if last["deadLettered"] or stored["events"] < last["delivered"]:
        raise RuntimeError(f"drain incomplete: gateway {last}, mock holds {stored['events']}")
    per_event = {name: used / max(delivered, 1) * 1e6 for name, used in cpu.items()}
    return {"delivered": delivered, "seconds": seconds, "eventsPerSecond": delivered / seconds,
            "cpuUsPerEvent": per_event,
            "outboxMessages": total, "emptied": bool(last.get("waitSatisfied"))}
