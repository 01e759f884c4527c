"""The benchmark suite: `make bench` (or `.venv/bin/python -m benchmarks.run`).

Measures, side by side in one run, and prints a table with absolute figures, the ratios that
matter and the targets (docs/performance.md):

  ceiling   a bare aiohttp app that parses the same body and answers 202, vs the mock's
            POST /event (durable journal, validation, stitching), vs POST /events (100 a batch)
  peers     WireMock standalone (warmed up) and Prism on the same request, as ratios to the mock
  flat      a fresh durable mock filled to 10k, 100k and 1M events: per-event ingest cost,
            GET /_mock/actor latency, RSS; then a restart that replays the 1M-event journal
  hostile   one user on 20,000 devices vs 20,000 users (stitching), and another tenant's p99
            under 100 filtered waits on a 20,000-event tenant receiving writes (hostile_bench.py)
  connector mapping throughput (one core); the gateway's ingest alone (wrk posting /v1/batch
            bodies of 100 messages, durable 200) and delivery from the outbox it filled to a
            durable mock (POST /event, and the POST /events extension); the gateway end to end
            (official Python SDK → gateway → mock, both durable)
  tests     how long `make test` takes

Servers are separate processes pinned to the same CPU(s); wrk (one thread, Lua scripts in
benchmarks/wrk/) is pinned to the remaining core. Each figure is the best of --rounds runs:
interference from other processes only ever slows a run down.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import (
    connector_bench,
    fill,
    gateway_flow,
    hostile_bench,
    peers,
    profile_event,
    record_bench,
)
from .harness import (
    BENCH,
    PYTHON,
    ROOT,
    Server,
    WrkResult,
    best,
    have_wrk,
    http_json,
    machine,
    split_cpus,
    wrk,
)

TOKEN = "bench-token"
STAGES = ("ceiling", "profile", "peers", "flat", "record", "hostile", "connector", "tests")
PERFORMANCE = ROOT / "docs" / "performance.md"
RESULTS = BENCH / "results" / "latest.json"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


@dataclass
class Row:
    section: str
    what: str
    figure: str
    ratio: str = ""
    target: str = ""
    met: bool | None = None


@dataclass
class Report:
    options: dict[str, Any]
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, section: str, what: str, figure: str, ratio: str = "", target: str = "",
            met: bool | None = None) -> None:
        row = Row(section, what, figure, ratio, target, met)
        self.rows.append(row)
        print(f"  {what}: {figure}" + (f"  [{ratio}]" if ratio else "")
              + (f"  target {target}: {_verdict(met)}" if target else ""), flush=True)


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "—"}[met]


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _mock(db: Path, cpus: set[int]) -> Server:
    return Server("mock", [PYTHON, "-m", "mockserver", "serve", "--port", "0", "--db", str(db)],
                  cpus=cpus)


def _rounds(run: Callable[[], WrkResult], rounds: int) -> WrkResult:
    return best([run() for _ in range(rounds)])


# -- 1-3: ceiling, POST /event, POST /events ----------------------------------------------------


def stage_ceiling(report: Report, work: Path, opts: argparse.Namespace) -> None:
    server_cpus, load_cpus = split_cpus()
    env = {"BENCH_TOKEN": TOKEN}
    c, secs, rounds = opts.connections, opts.seconds, opts.rounds
    print("ceiling and mock: POST /event", flush=True)
    with Server("ceiling", [PYTHON, "-m", "benchmarks.ceiling", "--port", "0"],
                cpus=server_cpus) as ceiling, _mock(work / "ceiling-run.journal",
                                                    server_cpus) as mock:
        for server in (ceiling, mock):  # warm-up
            wrk(server.url + "/event", "event.lua", min(2.0, secs), c, env, load_cpus)
        runs: dict[str, list[WrkResult]] = {"ceiling": [], "mock": []}
        cpu: dict[str, list[float]] = {"ceiling": [], "mock": []}
        for _ in range(rounds):  # interleaved, so a slow moment hits both alike
            for name, server in (("ceiling", ceiling), ("mock", mock)):
                before = server.cpu_seconds()
                run = wrk(server.url + "/event", "event.lua", secs, c, env, load_cpus)
                runs[name].append(run)
                cpu[name].append((server.cpu_seconds() - before) / run.requests * 1e6)
        top_ceiling, top_mock = best(runs["ceiling"]), best(runs["mock"])
        ratio = top_mock.rate / top_ceiling.rate
        ceiling_cpu, mock_cpu = min(cpu["ceiling"]), min(cpu["mock"])
        report.raw["ceiling"] = {**_wrk_raw(top_ceiling), "cpuUsPerRequest": ceiling_cpu}
        report.raw["mockEvent"] = {**_wrk_raw(top_mock), "cpuUsPerRequest": mock_cpu}
        report.add("ingest", "ceiling: bare aiohttp, parse + 202, no storing",
                   _rate(top_ceiling, "req/s") + f"; {ceiling_cpu:.0f} CPU µs/request")
        report.add("ingest", "mock POST /event (validated, durable, stitched)",
                   _rate(top_mock, "req/s") + f"; {mock_cpu:.0f} CPU µs/request",
                   f"{ratio:.2f}x ceiling", "≥ 0.70x ceiling", ratio >= 0.70)

        print("mock: POST /events, 100 events a request", flush=True)
        batch_env = {**env, "BENCH_BATCH": "100"}
        wrk(mock.url + "/events", "batch.lua", min(2.0, secs), opts.batch_connections,
            batch_env, load_cpus)
        batch = _rounds(lambda: wrk(mock.url + "/events", "batch.lua", secs,
                                    opts.batch_connections, batch_env, load_cpus), rounds)
        ceiling_batch = _rounds(lambda: wrk(ceiling.url + "/events", "batch.lua", secs,
                                            opts.batch_connections, batch_env, load_cpus),
                                rounds)
        events = batch.rate * 100
        report.raw["mockBatch"] = {**_wrk_raw(batch), "eventsPerSecond": events}
        report.raw["ceilingBatch"] = {**_wrk_raw(ceiling_batch),
                                      "eventsPerSecond": ceiling_batch.rate * 100}
        report.add("ingest", "mock POST /events, 100 events a request",
                   f"{_n(events)} events/s (p50 {batch.p50_ms:.1f} ms, p99 "
                   f"{batch.p99_ms:.1f} ms)",
                   f"{batch.rate / ceiling_batch.rate:.2f}x ceiling "
                   f"({_n(ceiling_batch.rate * 100)} events/s)",
                   "≥ 50,000 events/s", events >= 50_000)
        stats = http_json("GET", mock.url + "/_mock/stats", headers={"apiToken": TOKEN})
        report.raw["ceilingRunStored"] = stats["events"]
        report.raw["mockMemory"] = mock.memory()


def _rate(result: WrkResult, unit: str) -> str:
    return (f"{_n(result.rate)} {unit} (p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms)")


def _wrk_raw(result: WrkResult) -> dict[str, Any]:
    return {"rate": result.rate, "requests": result.requests, "seconds": result.seconds,
            "p50_ms": result.p50_ms, "p99_ms": result.p99_ms}


# -- 5: peers -----------------------------------------------------------------------------------


def stage_peers(report: Report, work: Path, opts: argparse.Namespace) -> None:
    server_cpus, load_cpus = split_cpus()
    env = {"BENCH_TOKEN": TOKEN}
    c, secs, rounds = opts.connections, opts.seconds, opts.rounds
    problem = peers.install()
    if problem is not None:
        report.add("peers", "WireMock and Prism", f"not run: {problem}")
        return
    report.raw["peerVersions"] = peers.versions()
    mock_rate = report.raw.get("mockEvent", {}).get("rate")
    with _mock(work / "peers-run.journal", server_cpus) as mock:
        if mock_rate is None:
            wrk(mock.url + "/event", "event.lua", 2, c, env, load_cpus)
            mock_rate = _rounds(lambda: wrk(mock.url + "/event", "event.lua", secs, c, env,
                                            load_cpus), rounds).rate
    for name, warmup in (("WireMock", opts.wiremock_warmup), ("Prism", 2.0)):
        root: Path | None = None
        try:
            if name == "WireMock":
                server, root = peers.wiremock(server_cpus)
            else:
                server = peers.prism(server_cpus)
            print(f"{name}: warming up for {warmup:g} s", flush=True)
            with server:
                wrk(server.url + "/event", "event.lua", warmup, c, env, load_cpus)
                result = _rounds(lambda s=server: wrk(s.url + "/event", "event.lua", secs, c,
                                                      env, load_cpus), rounds)
                memory = server.memory()
        except RuntimeError as exc:
            report.add("peers", name, f"not run: {exc}")
            continue
        finally:
            if root is not None:
                shutil.rmtree(root, ignore_errors=True)
        ratio = mock_rate / result.rate
        version = report.raw["peerVersions"].get(
            "wiremock" if name == "WireMock" else "@stoplight/prism-cli", "?")
        report.raw[name] = {**_wrk_raw(result), "memory": memory}
        if name == "WireMock":
            report.add("peers", f"WireMock {version} standalone, stub 202 (warmed up "
                       f"{warmup:g} s)", _rate(result, "req/s"), f"mock {ratio:.2f}x",
                       "mock ahead (> 1x)", ratio > 1.0)
        else:
            report.add("peers", f"Prism {version} mock of the same contract",
                       _rate(result, "req/s"), f"mock {ratio:.2f}x", "mock ≥ 5x", ratio >= 5.0)


# -- 4: flat cost -------------------------------------------------------------------------------


def stage_flat(report: Report, work: Path, opts: argparse.Namespace) -> None:
    server_cpus, load_cpus = split_cpus()
    env = {"BENCH_TOKEN": TOKEN}
    journal = work / "flat.journal"
    levels: list[dict[str, Any]] = []
    mock = _mock(journal, server_cpus).start()
    try:
        stored = 0
        for level in opts.levels:
            print(f"flat cost: filling to {_n(level)} events", flush=True)
            started = time.perf_counter()
            stored += fill.fill(mock.url, TOKEN, stored, level - stored)
            fill_seconds = time.perf_counter() - started
            # The cost of an event is the mock's own CPU time (user + system, every thread,
            # fsyncs included) per event: unlike a rate, other processes on the machine barely
            # move it. The mean over the rounds, so that garbage-collector pauses count.
            # The batch path: WINDOW events more, 1,000 a request; enough of them that the
            # garbage collector's full collections (one per ~70,000 events, 0.1 s at 1M) are
            # in it as often as they come.
            cpu = mock.cpu_seconds()
            stored += fill.fill(mock.url, TOKEN, stored, opts.window)
            batch_us = (mock.cpu_seconds() - cpu) / opts.window * 1e6
            # The single-event path under wrk.
            singles: list[tuple[float, WrkResult]] = []
            for _ in range(opts.rounds):
                cpu = mock.cpu_seconds()
                run = wrk(mock.url + "/event", "event.lua", opts.flat_seconds, opts.connections,
                          env, load_cpus)
                singles.append(((mock.cpu_seconds() - cpu) / run.requests, run))
            single_us = sum(cost for cost, _ in singles) / len(singles) * 1e6
            single = best([run for _, run in singles])
            # One client, one request at a time: the latency of the query itself.
            actor = min((wrk(mock.url + "/_mock/actor", "actor.lua", opts.flat_seconds, 1,
                             {**env, "BENCH_USER": fill.ACTOR_100}, load_cpus)
                         for _ in range(opts.rounds)), key=lambda run: run.p99_ms)
            check = http_json("GET", mock.url + f"/_mock/actor?userId={fill.ACTOR_100}",
                              headers={"apiToken": TOKEN})
            if check["eventCount"] != 100:
                raise RuntimeError(f"{fill.ACTOR_100} has {check['eventCount']} events, not 100")
            after = http_json("GET", mock.url + "/_mock/stats", headers={"apiToken": TOKEN})
            memory = mock.memory()
            levels.append({
                "level": level, "fillSeconds": fill_seconds, "batchUsPerEvent": batch_us,
                "singleUsPerEvent": single_us, "singleRate": single.rate,
                "singleP99ms": single.p99_ms, "actorP50ms": actor.p50_ms,
                "actorP99ms": actor.p99_ms, "storedAfter": after["events"],
                "rssBytes": memory["rss"], "peakRssBytes": memory["peak"],
            })
            stored = after["events"]
            print(f"  {_n(level)} stored: POST /events {batch_us:.1f} CPU µs/event, POST /event "
                  f"{single_us:.1f} CPU µs/event, actor p50 {actor.p50_ms:.2f} ms p99 "
                  f"{actor.p99_ms:.2f} ms, RSS {memory['rss'] / 2**20:,.0f} MiB (peak "
                  f"{memory['peak'] / 2**20:,.0f} MiB)", flush=True)
    finally:
        mock.stop()
    restart: dict[str, Any] = {}
    if opts.restart:
        print("flat cost: restart on the filled journal", flush=True)
        started = time.perf_counter()
        again = _mock(journal, server_cpus).start(timeout=900)
        try:
            restart["seconds"] = time.perf_counter() - started
            stats = http_json("GET", again.url + "/_mock/stats", headers={"apiToken": TOKEN})
            restart["events"] = stats["events"]
            restart["memory"] = again.memory()
        finally:
            again.stop()
        restart["journalBytes"] = record_bench.record_bytes(journal)
        if restart["events"] != stored:
            raise RuntimeError(f"the restarted mock holds {restart['events']} events, "
                               f"not the {stored} it acknowledged")
    journal.unlink(missing_ok=True)
    print("flat cost: the store alone, in one process", flush=True)
    done = subprocess.run(
        [PYTHON, "-m", "benchmarks.store_bench", "--levels", *map(str, opts.levels),
         "--window", str(opts.store_window), "--rounds", str(max(3, opts.rounds))],
        cwd=ROOT, capture_output=True, text=True, check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(server_cpus)}),
    )
    alone = json.loads(done.stdout.strip().splitlines()[-1])["levels"]
    report.raw["flat"] = {"levels": levels, "restart": restart, "window": opts.window,
                          "storeAlone": alone}
    _flat_rows(report, levels, restart)
    first, last = alone[0], alone[-1]
    ratio = last["usPerEvent"] / first["usPerEvent"]
    report.add("flat", "the store alone, in one process (parse, validate, prepare, apply)",
               "; ".join(f"{_short(e['level'])} stored: {e['usPerEvent']:.1f} CPU µs/event"
                         for e in alone),
               f"{ratio:.2f}x of {_short(first['level'])}",
               f"≤ 1.2x of {_short(first['level'])}", ratio <= 1.2)


def stage_record(report: Report, work: Path, opts: argparse.Namespace) -> None:
    """Restart beside ingest time, and the record's size (benchmarks/record_bench.py)."""
    results = record_bench.measure(work, opts.levels)
    report.raw["record"] = results
    record_bench.rows(report.add, results)


def _flat_rows(report: Report, levels: list[dict[str, Any]], restart: dict[str, Any]) -> None:
    first = levels[0]
    for entry in levels:
        level = entry["level"]
        single_ratio = entry["singleUsPerEvent"] / first["singleUsPerEvent"]
        batch_ratio = entry["batchUsPerEvent"] / first["batchUsPerEvent"]
        is_last = entry is levels[-1] and len(levels) > 1
        report.add(
            "flat", f"ingest cost with {_short(level)} stored",
            f"POST /event {entry['singleUsPerEvent']:.0f} CPU µs/event "
            f"({_n(entry['singleRate'])} req/s); POST /events "
            f"{entry['batchUsPerEvent']:.1f} CPU µs/event",
            "" if entry is first else f"{single_ratio:.2f}x / {batch_ratio:.2f}x of "
            f"{_short(first['level'])}",
            f"≤ 1.2x of {_short(first['level'])}" if is_last else "",
            (single_ratio <= 1.2 and batch_ratio <= 1.2) if is_last else None,
        )
    for entry in levels:
        is_last = entry is levels[-1]
        report.add(
            "flat", f"GET /_mock/actor (100 events) with {_short(entry['level'])} stored",
            f"p50 {entry['actorP50ms']:.2f} ms, p99 {entry['actorP99ms']:.2f} ms", "",
            "p99 < 20 ms" if is_last else "",
            entry["actorP99ms"] < 20 if is_last else None,
        )
    last = levels[-1]
    peak = max(last["peakRssBytes"], restart.get("memory", {}).get("peak", 0))
    report.add("flat", f"peak RSS with {_short(last['level'])} stored",
               f"{peak / 2**30:.2f} GiB (RSS after the fill {last['rssBytes'] / 2**30:.2f} GiB)",
               "", "< 1.5 GB", peak < 1.5e9)
    if restart:
        report.add("flat", f"restart with {_short(restart['events'])} stored (snapshot + tail)",
                   f"{restart['seconds']:.1f} s for {restart['journalBytes'] / 2**20:,.0f} MiB "
                   f"of record; RSS {restart['memory']['rss'] / 2**30:.2f} GiB")


def _short(count: int) -> str:
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000}k"
    return _n(count)


# -- 6: connector -------------------------------------------------------------------------------


def stage_profile(report: Report, work: Path, opts: argparse.Namespace) -> None:
    """Where POST /event's CPU goes, by stage of the hot path (profile_event.py)."""
    print("profile: POST /event under cProfile", flush=True)
    stats, requests = profile_event.run(opts.seconds, opts.connections, work)
    totals = profile_event.breakdown(stats)
    whole = sum(totals.values())
    report.raw["profile"] = {"requests": requests,
                             "usPerRequest": {k: v / requests * 1e6 for k, v in totals.items()}}
    for stage, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        report.add("profile", f"POST /event: {stage}",
                   f"{seconds / whole:.1%} of the loop's CPU")


def stage_hostile(report: Report, work: Path, opts: argparse.Namespace) -> None:
    hostile_bench.stage(report, report.raw, work, opts)


def stage_connector(report: Report, work: Path, opts: argparse.Namespace) -> None:
    server_cpus, _ = split_cpus()
    print("connector: mapping on one core", flush=True)
    done = subprocess.run(
        [PYTHON, "-m", "benchmarks.connector_bench", "mapping", "--seconds",
         str(opts.seconds)], cwd=ROOT, capture_output=True, text=True, check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(server_cpus)}),
    )
    mapping = json.loads(done.stdout.strip().splitlines()[-1])
    report.raw["mapping"] = mapping
    report.add("connector", "mapping (map_message, medium scenario, one core)",
               f"{_n(mapping['rate'])} messages/s ({mapping['mappedShare']:.0%} become events)",
               "", "≥ 50,000 messages/s", mapping["rate"] >= 50_000)
    _gateway_halves(report, work, opts)
    messages = connector_bench.repeated(connector_bench.medium_messages(), opts.gateway_copies)
    deliveries, skipped = connector_bench.expected_deliveries(messages)
    for label, batch in (("per-event POST /event (the real API)", False),
                         ("mock's POST /events batch extension", True)):
        print(f"connector: gateway end to end, {label}", flush=True)
        result = _gateway_run(work, messages, deliveries, skipped, batch, opts)
        report.raw["gateway" + ("Batch" if batch else "Event")] = result
        report.add(
            "connector", f"gateway end to end, {label}",
            f"{_n(result['eventsPerSecond'])} events/s ({_n(result['messagesPerSecond'])} "
            f"SDK messages/s; {_n(len(messages))} messages → {_n(deliveries)} events)",
            "", "≥ 20,000 events/s", result["eventsPerSecond"] >= 20_000)


def _gateway_halves(report: Report, work: Path, opts: argparse.Namespace) -> None:
    server_cpus, load_cpus = split_cpus()
    outbox = work / "ingest.sqlite3"
    print("connector: gateway ingest, wrk posting /v1/batch (100 messages a body)", flush=True)
    ingest = gateway_flow.ingest(outbox, TOKEN, opts.seconds, opts.rounds,
                                 opts.batch_connections, server_cpus, load_cpus)
    report.raw["gatewayIngest"] = ingest
    rate = ingest["messagesPerSecond"]
    report.add("connector", "gateway ingest alone: /v1/batch of 100, durable 200 (one core)",
               f"{_n(rate)} messages/s (p50 {ingest['p50_ms']:.1f} ms, p99 "
               f"{ingest['p99_ms']:.1f} ms); {ingest['cpuUsPerMessage']:.0f} CPU µs/message",
               f"{rate / 20_000:.2f}x target",
               "≥ 20,000 messages/s", rate >= 20_000)
    for label, batch, target in (("per-event POST /event", False, 4_000),
                                 ("POST /events batch extension", True, 20_000)):
        print(f"connector: delivery from a full outbox, {label}", flush=True)
        drained = gateway_flow.drain(outbox, work, TOKEN, batch, opts.drain_seconds)
        report.raw["drain" + ("Batch" if batch else "Event")] = drained
        events = drained["eventsPerSecond"]
        report.add("connector", f"delivery from a full outbox, {label}",
                   f"{_n(events)} events/s ({_n(drained['delivered'])} of "
                   f"{_n(drained['outboxMessages'])} in {drained['seconds']:.1f} s); CPU µs/event: "
                   f"gateway {drained['cpuUsPerEvent']['gateway']:.0f}, mock "
                   f"{drained['cpuUsPerEvent']['mock']:.0f}",
                   f"{events / target:.2f}x target", f"≥ {_n(target)} events/s",
                   events >= target)
    outbox.unlink(missing_ok=True)


def _gateway_run(work: Path, messages: list[dict[str, Any]], deliveries: int, skipped: int,
                 batch: bool, opts: argparse.Namespace) -> dict[str, Any]:
    suffix = "batch" if batch else "event"
    with _mock(work / f"gateway-{suffix}.journal", None) as mock:
        command = [PYTHON, "-m", "benchmarks.connector_bench", "gateway", "--pointillist-url",
                   mock.url, "--token", TOKEN, "--outbox", str(work / f"outbox-{suffix}.sqlite3")]
        if batch:
            command.append("--batch")
        with Server("gateway", command) as gateway:
            started = time.perf_counter()
            sdk_seconds = connector_bench.send_with_sdk(gateway.url, messages, opts.upload_size)
            query = urllib.parse.urlencode({"min_delivered": deliveries, "min_skipped": skipped,
                                            "timeout": 30})
            while True:
                stats = http_json("GET", f"{gateway.url}/_gateway/stats?{query}")
                if stats["waitSatisfied"] or stats["deadLettered"]:
                    break
            seconds = time.perf_counter() - started
            mock_stats = http_json("GET", mock.url + "/_mock/stats",
                                   headers={"apiToken": TOKEN})
    if not stats["waitSatisfied"] or mock_stats["events"] != deliveries:
        raise RuntimeError(f"gateway run incomplete: gateway {stats}, mock holds "
                           f"{mock_stats['events']} of {deliveries} events")
    return {"seconds": seconds, "sdkSeconds": sdk_seconds, "messages": len(messages),
            "events": deliveries, "eventsPerSecond": deliveries / seconds,
            "messagesPerSecond": len(messages) / seconds}


# -- tests --------------------------------------------------------------------------------------


def stage_tests(report: Report, work: Path, opts: argparse.Namespace) -> None:
    print("make test", flush=True)
    started = time.perf_counter()
    # As a person runs it: not as a sub-make of `make bench` (whose MAKELEVEL makes the nested
    # `make demo` of tests/examples print "Entering directory" lines).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    done = subprocess.run(["make", "test"], cwd=ROOT, capture_output=True, text=True,
                          check=False, env=env)
    seconds = time.perf_counter() - started
    summary = ""
    for line in reversed(done.stdout.splitlines()):
        if re.search(r"\d+ (passed|failed)", line):
            summary = line.strip("= ")
            break
    failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    report.raw["makeTest"] = {"seconds": seconds, "exit": done.returncode, "summary": summary,
                              "failed": failed}
    for line in failed:
        print(f"  {line}", flush=True)
    status = "passed" if done.returncode == 0 else f"exit {done.returncode}"
    report.add("tests", "make test (ruff, mypy, pytest)",
               f"{seconds:.0f} s ({status}: {summary})", "", "< 5 min", seconds < 300)


# -- output -------------------------------------------------------------------------------------


def markdown(report: Report, command: str) -> str:
    m = report.machine
    lines = [
        f"Measured with `{command}` on {m['cores']} cores ({m['cpu']}), "
        f"{m['memoryGiB']} GiB, Python {m['python']}, Linux {m['kernel']}"
        f" ({time.strftime('%Y-%m-%d', time.gmtime(report.raw['finished']))}).",
        f"Servers pinned to CPU {','.join(map(str, m['serverCpus']))}; the load generator, "
        f"wrk (1 thread, {report.options['connections']} connections, Lua scripts in "
        f"`benchmarks/wrk/`), pinned to CPU {','.join(map(str, m['loadCpus']))}. "
        f"Best of {report.options['rounds']} runs of {report.options['seconds']:g} s. "
        "Every mock is durable: a 2xx means fsynced (group commit). Load average (other "
        f"processes) {report.raw['loadBefore']:.1f} at the start, "
        f"{report.raw['loadAfter']:.1f} at the end.",
        "",
        "| | what | figure | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        mark = {True: "met", False: "**missed**", None: ""}[row.met]
        lines.append(f"| {row.section} | {row.what} | {row.figure} | {row.ratio} | "
                     f"{row.target} | {mark} |")
    if report.notes:
        lines += ["", *report.notes]
    return "\n".join(lines)


def write_performance_page(block: str) -> None:
    text = PERFORMANCE.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"docs/performance.md has no {BEGIN} … {END} block to replace")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    PERFORMANCE.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}", encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=STAGES, help="run these stages only")
    parser.add_argument("--skip", nargs="+", choices=STAGES, default=[], help="skip these")
    parser.add_argument("--seconds", type=float, default=5.0, help="one wrk run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per figure (best counts)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-connections", type=int, default=8)
    parser.add_argument("--levels", type=int, nargs="+",
                        default=[10_000, 100_000, 1_000_000], help="stored events")
    parser.add_argument("--window", type=int, default=60_000,
                        help="events timed through POST /events at each level")
    parser.add_argument("--store-window", type=int, default=20_000,
                        help="events timed per round by the in-process store measurement")
    parser.add_argument("--flat-seconds", type=float, default=2.0)
    parser.add_argument("--no-restart", dest="restart", action="store_false")
    parser.add_argument("--wiremock-warmup", type=float, default=15.0)
    parser.add_argument("--gateway-copies", type=int, default=10,
                        help="copies of the medium scenario sent through the gateway")
    parser.add_argument("--drain-seconds", type=float, default=10.0,
                        help="how long delivery from the full outbox is measured, at most")
    parser.add_argument("--upload-size", type=int, default=250,
                        help="the SDK's upload_size (messages per /v1/batch)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 s runs, 1 round, small levels, no peers/tests")
    parser.add_argument("--docs", "--readme", dest="docs", action="store_true",
                        help="write the table into docs/performance.md (--readme: the old name)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.flat_seconds = 1.0, 1, 1.0
        args.levels, args.window, args.gateway_copies = [2000, 6000], 1000, 1
        args.store_window = 1000
        args.drain_seconds = 2.0
        args.wiremock_warmup = 2.0
        args.skip = sorted({*args.skip, "peers", "tests"})
    return args


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if not have_wrk():
        print("wrk is not installed: `apt-get install -y wrk` (make bench does it as root)",
              file=sys.stderr)
        return 2
    stages = [s for s in (opts.only or STAGES) if s not in opts.skip]
    given = " ".join(argv if argv is not None else sys.argv[1:])
    if argv is None and os.environ.get("MAKELEVEL"):
        command = "make bench" + (f' ARGS="{given}"' if given else "")
    else:
        command = f"python -m benchmarks.run {given}".strip()
    report = Report(options=vars(opts), machine=machine())
    m = report.machine
    print(f"machine: {m['cores']} cores ({m['cpu']}), {m['memoryGiB']} GiB; servers on CPU "
          f"{m['serverCpus']}, wrk on CPU {m['loadCpus']}; stages: {', '.join(stages)}",
          flush=True)
    runners = {"ceiling": stage_ceiling, "profile": stage_profile, "peers": stage_peers,
               "flat": stage_flat, "record": stage_record, "hostile": stage_hostile,
               "connector": stage_connector, "tests": stage_tests}
    report.raw["loadBefore"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="pointillist-bench-", dir=opts_dir()) as tmp:
        for stage in stages:
            runners[stage](report, Path(tmp), opts)
    report.raw["finished"] = time.time()
    report.raw["loadAfter"] = os.getloadavg()[0]
    block = markdown(report, command)
    print("\n" + block)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": command, "machine": report.machine,
                                   "rows": [vars(r) for r in report.rows], "raw": report.raw,
                                   "options": report.options}, indent=2), encoding="utf-8")
    if opts.docs:
        write_performance_page(block)
        print("\nwrote the table into docs/performance.md")
    return 0


def opts_dir() -> str | None:
    """Journals go on a real disk (fsync must mean something): $BENCH_TMP, else /var/tmp."""
    return os.environ.get("BENCH_TMP") or ("/var/tmp" if Path("/var/tmp").is_dir() else None)


if __name__ == "__main__":
    sys.exit(main())
