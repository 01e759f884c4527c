"""The benchmark suite's pieces work (benchmarks/, `make bench`): no timing, only that each piece
does what the suite relies on. The timed runs themselves are never part of the test suite."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, web

from benchmarks import connector_bench, fill, profile_event
from benchmarks.ceiling import create_ceiling_app
from benchmarks.harness import parse_wrk
from benchmarks.run import Report, markdown
from tests.conftest import StartMock, make_event


@pytest.fixture
async def ceiling_url() -> AsyncIterator[str]:
    runner = web.AppRunner(create_ceiling_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def test_the_ceiling_parses_the_body_and_answers_202_without_storing(
    ceiling_url: str,
) -> None:
    async with ClientSession() as http:
        async with http.post(f"{ceiling_url}/event", json=make_event()) as answer:
            assert (answer.status, await answer.json()) == (
                202, {"id": "evt_0000000001", "duplicate": False, "type": "dict"})
        async with http.post(f"{ceiling_url}/events", json=[make_event()] * 3) as answer:
            assert (answer.status, await answer.json()) == (
                202, {"ids": [], "count": 3, "duplicate": False})


async def test_the_fill_stores_every_event_and_an_actor_with_exactly_100(
    start_mock: StartMock, token: str, http: ClientSession
) -> None:
    bodies = list(fill.batches(0, 2500))
    assert [len(json.loads(body)) for body in bodies] == [1000, 1000, 500]
    async with start_mock() as url:
        stored = await fill._post_all(url, token, iter(bodies), concurrency=2)
        more = await fill._post_all(url, token, fill.batches(2500, 700), concurrency=2)
        async with http.get(f"{url}/_mock/stats") as answer:
            stats = await answer.json()
        async with http.get(f"{url}/_mock/actor", params={"userId": fill.ACTOR_100}) as answer:
            actor = await answer.json()
    assert (stored, more, stats["events"], stats["rejected"]) == (2500, 700, 3200, 0)
    assert (actor["eventCount"], actor["identifiers"]) == (
        100, {"anonymousId": [fill.ACTOR_100_ANON], "userId": [fill.ACTOR_100]})
    assert [event["event"]["eventType"] for event in actor["events"][:41]] == [
        "Product Viewed"] * 40 + ["identify"]


def test_wrk_output_is_read_from_the_lua_scripts_json_line() -> None:
    output = (
        "Running 1s test @ http://127.0.0.1:1/event\n"
        'WRK_JSON {"requests":5000,"duration_us":2000000,"bytes":1,"non2xx":3,"connect":1,'
        '"read":2,"write":0,"timeout":4,"p50_us":1500,"p90_us":2000,"p99_us":9000,'
        '"max_us":12000,"mean_us":1700.0}\n'
    )
    result = parse_wrk(output)
    assert (result.requests, result.seconds, result.rate, result.non2xx, result.socket_errors,
            result.p50_ms, result.p99_ms) == (5000, 2.0, 2500.0, 3, 7, 1.5, 9.0)
    with pytest.raises(RuntimeError, match="no WRK_JSON line"):
        parse_wrk("Running 1s test\n")


def test_gateway_copies_are_independent_and_deliver_the_same_events_each() -> None:
    small = [json.loads(line) for line in
             (connector_bench.ROOT / "fixtures" / "small.jsonl").read_text().splitlines()]
    copies = connector_bench.repeated(small, 3)
    ids = [message["messageId"] for message in copies]
    assert (len(copies), len(set(ids))) == (3 * len(small), 3 * len(small))
    one = connector_bench.expected_deliveries(small)
    assert connector_bench.expected_deliveries(copies) == (3 * one[0], 3 * one[1])
    assert small[0]["messageId"] + "~2" == copies[2 * len(small)]["messageId"]


def test_mapping_rate_counts_every_message_it_mapped() -> None:
    messages: list[dict[str, Any]] = [
        {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "m1",
         "timestamp": "2026-11-28T10:00:00.000Z", "properties": {"revenue": 1}},
        {"type": "page", "anonymousId": "a1", "messageId": "m2",
         "timestamp": "2026-11-28T10:00:00.000Z"},
    ]
    result = connector_bench.mapping_rate(0.01, messages)
    assert result["messages"] % 2 == 0 and result["messages"] >= 2
    assert result["mappedShare"] == 0.5


def test_the_markdown_table_says_which_targets_were_met() -> None:
    report = Report(options={"connections": 32, "rounds": 3, "seconds": 5.0},
                    machine={"cores": 2, "cpu": "CPU", "memoryGiB": 4.0, "python": "3.11",
                             "kernel": "6", "serverCpus": [0], "loadCpus": [1]})
    report.add("ingest", "mock POST /event", "5,000 req/s", "0.80x ceiling", ">= 0.70x", True)
    report.add("flat", "peak RSS", "2.00 GiB", "", "< 1.5 GB", False)
    report.raw.update(finished=0.0, loadBefore=1.0, loadAfter=2.0)
    lines = markdown(report, "make bench").splitlines()
    assert lines[0].startswith("Measured with `make bench` on 2 cores (CPU), 4.0 GiB")
    assert lines[-2:] == [
        "| ingest | mock POST /event | 5,000 req/s | 0.80x ceiling | >= 0.70x | met |",
        "| flat | peak RSS | 2.00 GiB |  | < 1.5 GB | **missed** |",
    ]


def test_the_profile_puts_each_function_in_its_stage_of_the_hot_path() -> None:
    cases = {
        ("/x/httpkit/guard.py", "middleware"): "guard and middlewares",
        ("/x/mockserver/validation/events.py", "check"): "validation",
        ("/x/mockserver/state/store.py", "apply"): "store apply, index, identity",
        ("~", "<method 'put' of '_queue.SimpleQueue' objects>"): "journal hand-off (loop side)",
        ("/x/site-packages/aiohttp/web_protocol.py", "data_received"):
            "aiohttp: HTTP parse, routing, response",
        ("/x/elsewhere.py", "mystery"): "other",
    }
    assert {key: profile_event.stage_of(*key) for key in cases} == cases
