"""Engage audiences and computed traits end to end: the simulator's syncs go through the
connector's mapping and delivery (pipeline.send) into a live mock, and the mock's label
history shows the exact timeline of each flag.

Time is simulated: every sync gets its `now`. "Within the last 30 days" at `now` is
`now - 30 days < timestamp <= now`; the syncs below run at 12:00 on day 0 (right after the
order) and at 00:00 on the following days, so an order at day 0 10:00 counts through the day-30
sync and is out at the day-31 sync.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientSession

from connector.cli import main
from connector.config import DeliveryConfig
from connector.engage.simulator import EngageSimulator, parse_definitions
from connector.pipeline import send
from tests.e2e.gateway_helpers import (
    SUCCESS,
    gateway_stats,
    get,
    mock_events,
    post,
    run_gateway,
)

Json = dict[str, Any]
D0 = datetime(2026, 1, 1, tzinfo=UTC)
ORDER = "Order Completed"
KEY = "order_completed_last_30days"
AUDIENCE = {"name": "Order Completed Last 30days", "event": ORDER, "within_days": 30,
            "min_count": 1}


def day(n: float, hour: float = 0) -> datetime:
    return D0 + timedelta(days=n, hours=hour)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def track(at: datetime, event: str = ORDER, **ids: str) -> Json:
    return {"type": "track", "event": event, "timestamp": iso(at), "properties": {},
            "messageId": f"m-{event}-{iso(at)}-{sorted(ids.items())}", **ids}


def identify(at: datetime, **ids: str) -> Json:
    return {"type": "identify", "timestamp": iso(at), "traits": {"plan": "pro"},
            "messageId": f"m-identify-{iso(at)}-{sorted(ids.items())}", **ids}


def emitted_values(messages: Iterable[Json]) -> list[tuple[str, str, Any]]:
    out = []
    for message in messages:
        key = message["context"]["personas"]["computation_key"]
        out.append((message.get("userId") or message["anonymousId"], key,
                    message["traits"][key]))
    return out


@pytest.fixture
async def deliver(mock_url: str, token: str) -> AsyncIterator[Any]:
    """deliver(messages): map and send them to the mock as `segment-connector send` does."""
    config = DeliveryConfig(url=mock_url, token=token, backoff_base=0.0, backoff_max=0.0)
    async with aiohttp.ClientSession() as session:
        async def run(messages: list[Json]) -> None:
            if not messages:
                return
            summary = await send(messages, config, session=session)
            assert (summary.ok, summary.sent) == (True, len(messages)), summary.as_dict()

        yield run


async def label_history(http: ClientSession, url: str, label: str, **identifier: str
                        ) -> list[Json]:
    async with http.get(f"{url}/_mock/labels/history",
                        params={**identifier, "label": label}) as response:
        assert response.status == 200, await response.text()
        body: list[Json] = (await response.json())["history"]
        return body


async def get_json(http: ClientSession, url: str, path: str, **params: str) -> tuple[int, Json]:
    async with http.get(f"{url}{path}", params=params) as response:
        return response.status, await response.json()


async def test_order_on_day_0_true_day_31_false_order_on_day_40_true_again(
    mock_url: str, http: ClientSession, deliver: Any
) -> None:
    sim = EngageSimulator(parse_definitions({"audiences": [AUDIENCE]}))
    first_visit = [identify(day(0, 9), userId="u_1", anonymousId="a_1"),
                   track(day(0, 10), userId="u_1", anonymousId="a_1")]
    sim.observe_all(first_visit)
    emitted = sim.sync(day(0, 12))
    per_day = {0: emitted_values(emitted)}
    await deliver(first_visit + emitted)
    for n in range(1, 46):
        traffic = [track(day(40, 10), userId="u_1")] if n == 41 else []
        sim.observe_all(traffic)
        emitted = sim.sync(day(n))
        per_day[n] = emitted_values(emitted)
        await deliver(traffic + emitted)

    assert {n: values for n, values in per_day.items() if values} == {
        0: [("u_1", KEY, True)], 31: [("u_1", KEY, False)], 41: [("u_1", KEY, True)]}
    expected = [
        {"eventTime": "2026-01-01T12:00:00.000Z", "value": "true"},
        {"eventTime": "2026-02-01T00:00:00.000Z", "value": "false"},
        {"eventTime": "2026-02-11T00:00:00.000Z", "value": "true"},
    ]
    assert await label_history(http, mock_url, KEY, userId="u_1") == expected
    assert await label_history(http, mock_url, KEY, anonymousId="a_1") == expected
    status, actor = await get_json(http, mock_url, "/_mock/actor", userId="u_1")
    assert status == 200
    assert actor["labels"] == {KEY: "true", "plan": "pro"}
    assert [e["event"]["eventType"] for e in actor["events"]] == [
        "identify", ORDER, "identify", "identify", ORDER, "identify"]


async def test_first_sync_of_a_new_audience_over_50_users_sends_one_identify_per_member(
    mock_url: str, http: ClientSession, deliver: Any
) -> None:
    sim = EngageSimulator(parse_definitions({"audiences": [AUDIENCE]}))
    users = [f"u_{n:02d}" for n in range(50)]
    members = [u for n, u in enumerate(users) if n % 3 == 0]  # 17 of them ordered
    for n, user in enumerate(users):
        sim.observe(track(day(0, 1), "Product Viewed", userId=user))
        if n % 3 == 0:
            sim.observe(track(day(1, n / 10), userId=user))
        elif n % 3 == 1:  # an order too old for the window
            sim.observe(track(day(-31), userId=user))

    first = sim.sync(day(6))
    second = sim.sync(day(6, 3))
    await deliver(first + second)

    assert emitted_values(first) == [(u, KEY, True) for u in members]
    assert second == []
    status, listed = await get_json(http, mock_url, "/_mock/events", limit="1000")
    assert status == 200
    assert listed["total"] == 17
    assert sorted(e["event"]["actors"]["Customer"]["userId"] for e in listed["events"]) == members
    assert {(e["event"]["eventType"], e["eventTime"], str(e["event"]["labels"]))
            for e in listed["events"]} == {
        ("identify", "2026-01-07T00:00:00.000Z", str({KEY: "true"}))}
    status, body = await get_json(http, mock_url, "/_mock/actor", userId="u_01")
    assert (status, body["error"]["code"]) == (404, "actor_not_found")


async def test_a_user_who_qualified_anonymously_and_then_identified_counts_once(
    mock_url: str, http: ClientSession, deliver: Any
) -> None:
    sim = EngageSimulator(parse_definitions({
        "audiences": [AUDIENCE],
        "computed_traits": [{"name": "Orders 30d", "event": ORDER, "within_days": 30}],
    }))
    syncs: dict[str, list[tuple[str, str, Any]]] = {}

    async def step(traffic: list[Json], at: datetime) -> None:
        sim.observe_all(traffic)
        emitted = sim.sync(at)
        syncs[iso(at)] = emitted_values(emitted)
        await deliver(traffic + emitted)

    await step([track(day(0, 10), anonymousId="a_1")], day(0, 12))  # a guest order
    await step([identify(day(1, 9), userId="u_1", anonymousId="a_1")], day(1, 12))
    await step([track(day(2, 10), userId="u_1")], day(2, 12))  # logged in, another device
    profiles = sim.evaluate(day(2, 12))
    await step([], day(30, 12))
    await step([], day(32, 12))

    assert syncs == {
        "2026-01-01T12:00:00.000Z": [("a_1", KEY, True), ("a_1", "orders_30d", 1)],
        "2026-01-02T12:00:00.000Z": [],
        "2026-01-03T12:00:00.000Z": [("u_1", "orders_30d", 2)],  # one member, two orders
        "2026-01-31T12:00:00.000Z": [("u_1", "orders_30d", 1)],
        "2026-02-02T12:00:00.000Z": [("u_1", KEY, False), ("u_1", "orders_30d", 0)],
    }
    assert profiles == {KEY: {("userId", "u_1"): True}, "orders_30d": {("userId", "u_1"): 2}}
    for identifier in ({"userId": "u_1"}, {"anonymousId": "a_1"}):
        assert await label_history(http, mock_url, KEY, **identifier) == [
            {"eventTime": "2026-01-01T12:00:00.000Z", "value": "true"},
            {"eventTime": "2026-02-02T12:00:00.000Z", "value": "false"},
        ]
        assert [h["value"] for h in await label_history(
            http, mock_url, "orders_30d", **identifier)] == [1, 2, 1, 0]
    status, actor = await get_json(http, mock_url, "/_mock/actor", userId="u_1")
    assert (status, actor["identifiers"]) == (200, {"anonymousId": ["a_1"], "userId": ["u_1"]})
    status, stats = await get_json(http, mock_url, "/_mock/stats")
    assert (stats["actors"], stats["conflicts"]) == (1, 0)


async def test_computed_trait_orders_last_90_days_moves_0_1_2_1_and_only_changes_are_sent(
    mock_url: str, http: ClientSession, deliver: Any
) -> None:
    sim = EngageSimulator(parse_definitions({"computed_traits": [
        {"name": "orders_last_90_days", "event": ORDER, "within_days": 90,
         "aggregate": "count"}]}))
    key = "orders_last_90_days"
    traffic_on = {0: [identify(day(0, 9), userId="u_7")],
                  10: [track(day(10, 10), userId="u_7")],
                  20: [track(day(20, 10), userId="u_7")]}
    sent: dict[int, list[Any]] = {}
    seen: dict[int, Any] = {}
    for n in range(116):
        traffic = traffic_on.get(n, [])
        sim.observe_all(traffic)
        seen[n] = sim.value(key, day(n, 12), user_id="u_7")
        emitted = sim.sync(day(n, 12))
        sent[n] = [v for _, _, v in emitted_values(emitted)]
        await deliver(traffic + emitted)

    assert (seen[0], seen[10], seen[20], seen[100], seen[110]) == (0, 1, 2, 1, 0)
    assert {n: values for n, values in sent.items() if values} == {
        10: [1], 20: [2], 100: [1], 110: [0]}
    assert await label_history(http, mock_url, key, userId="u_7") == [
        {"eventTime": "2026-01-11T12:00:00.000Z", "value": 1},
        {"eventTime": "2026-01-21T12:00:00.000Z", "value": 2},
        {"eventTime": "2026-04-11T12:00:00.000Z", "value": 1},
        {"eventTime": "2026-04-21T12:00:00.000Z", "value": 0},
    ]
    status, actor = await get_json(http, mock_url, "/_mock/actor", userId="u_7")
    assert (status, actor["numbers"], actor["labels"]) == (200, {key: 0}, {"plan": "pro"})


async def test_the_track_form_reaches_the_mock_as_audience_entered_and_exited(
    mock_url: str, http: ClientSession, deliver: Any
) -> None:
    sim = EngageSimulator(parse_definitions({"emit": "track", "audiences": [AUDIENCE]}))
    sim.observe(track(day(0, 10), anonymousId="a_5"))
    await deliver(sim.sync(day(0, 12)) + sim.sync(day(31)))
    status, listed = await get_json(http, mock_url, "/_mock/events", anonymousId="a_5")
    assert status == 200
    assert [(e["eventTime"], e["event"]["eventType"], e["event"]["labels"])
            for e in listed["events"]] == [
        ("2026-01-01T12:00:00.000Z", "Audience Entered", {"audience_key": KEY, KEY: "true"}),
        ("2026-02-01T00:00:00.000Z", "Audience Exited", {"audience_key": KEY, KEY: "false"}),
    ]
    assert await label_history(http, mock_url, KEY, anonymousId="a_5") == []  # no identify


# -- segment-connector audiences sync --------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
MEDIUM = ROOT / "fixtures" / "medium.jsonl"
SAMPLE = ROOT / "fixtures" / "audiences.yaml"


async def run_cli(*args: str) -> tuple[int, list[str], list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "connector.cli", *args, cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode().splitlines(), err.decode().splitlines()


def expected_history(orders: list[datetime], ticks: list[datetime], days: int) -> list[Json]:
    """Membership computed straight from the definition at each sync: the changes, from false."""
    history, member = [], False
    for tick in ticks:
        now = any(tick - timedelta(days=days) < at <= tick for at in orders)
        if now != member:
            history.append({"eventTime": iso(tick), "value": "true" if now else "false"})
            member = now
    return history


async def test_audiences_sync_replays_sixty_days_every_3h_into_the_mock(
    tmp_path: Path, mock_url: str, token: str, http: ClientSession
) -> None:
    out_file = tmp_path / "engage.jsonl"
    status, out, err = await run_cli(
        "audiences", "sync", "--definitions", str(SAMPLE), "--traffic", str(MEDIUM),
        "--every", "3h", "--url", mock_url, "--token", token, "--out", str(out_file))

    assert status == 0, err
    emitted = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert out[0] == (f"476 syncs from 2026-01-01T12:00:00.000Z to 2026-03-01T21:00:00.000Z, "
                      f"{len(emitted)} messages")
    assert out[1].split() == ["definition", "class", "entered", "exited", "changed"]
    assert [line.split()[0] for line in out[2:10]] == [
        "order_completed_last_30days", "repeat_buyers_2_orders_60_days", "big_eur_spenders",
        "engaged_or_repeat", "recent_repeat_buyers", "orders_last_90_days",
        "revenue_last_90_days", "products_viewed_7_days"]
    assert out[11].split() == ["sent", str(len(emitted))]
    status, stats = await get_json(http, mock_url, "/_mock/stats")
    assert stats["events"] == len(emitted)
    assert {m["type"] for m in emitted} == {"identify"}
    assert len({m["messageId"] for m in emitted}) == len(emitted)

    # Users whose orders all carry their userId, and none of whose anonymousIds ever ordered as a
    # guest: their orders are exactly the tracks with their userId.
    traffic = [json.loads(line) for line in MEDIUM.read_text(encoding="utf-8").splitlines()]
    guest_ids = {m["anonymousId"] for m in traffic
                 if m.get("event") == ORDER and m.get("userId") is None}
    linked = {m["userId"] for m in traffic
              if m.get("userId") and m.get("anonymousId") in guest_ids}
    orders: dict[str, list[datetime]] = {}
    for m in traffic:
        if m.get("event") == ORDER and m.get("userId") and m["userId"] not in linked:
            at = datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00"))
            orders.setdefault(m["userId"], []).append(at)
    ticks = [day(0, 12) + timedelta(hours=3 * k) for k in range(476)]
    assert len(orders) == 28
    exits = 0
    for user, times in sorted(orders.items()):
        expected = expected_history(times, ticks, 30)
        exits += sum(1 for entry in expected if entry["value"] == "false")
        assert await label_history(http, mock_url, KEY, userId=user) == expected, user
    assert exits >= 3  # the check covers leaving, not only entering


def test_audiences_sync_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("audiences:\n  - name: A\n    event: X\n    within_days: -1\n",
                   encoding="utf-8")
    base = ["audiences", "sync", "--traffic", str(MEDIUM), "--every", "3h"]
    cases = [
        ([*base, "--definitions", str(bad), "--out", "-"],
         "audiences[0] (A): within_days must be a number > 0, not -1"),
        ([*base, "--definitions", str(SAMPLE)],
         "give --url and --token to deliver, or --out to write a file"),
        ([*base, "--definitions", str(SAMPLE), "--url", "http://127.0.0.1:9"],
         "--url needs --token"),
        (["audiences", "sync", "--definitions", str(SAMPLE), "--traffic", str(MEDIUM),
          "--every", "3 hours", "--out", "-"], "not an interval"),
        (["audiences", "sync", "--definitions", str(SAMPLE), "--traffic",
          str(tmp_path / "none.jsonl"), "--every", "3h", "--out", "-"], "does not exist"),
    ]
    for args, message in cases:
        try:
            code = main(args)
        except SystemExit as exited:  # argparse's usage error, for a file that is not there
            code = exited.code
        assert code == 2, args
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith("segment-connector audiences sync: "), captured.err
        assert message in captured.err and captured.err.count("\n") == 1, captured.err


# -- the gateway --------------------------------------------------------------------------------


async def test_the_gateway_runs_syncs_in_traffic_time_and_delivers_them(
    mock_url: str, token: str, http: ClientSession
) -> None:
    definitions = parse_definitions({"audiences": [AUDIENCE]})
    async with run_gateway(mock_url, token, definitions=definitions, sync_every=86400.0,
                           sync_clock="traffic") as gateway:
        batch = {"batch": [
            identify(day(0, 9), userId="u_1", anonymousId="a_1"),
            track(day(0, 10), userId="u_1", anonymousId="a_1"),
            track(day(0, 11), userId="u_2"),
        ]}
        assert await post(http, f"{gateway}/v1/batch", batch) == (200, SUCCESS)
        # The next message is past day 1 00:00: that sync runs (both ordered on day 0) ...
        viewed = track(day(1, 1), "Product Viewed", userId="u_3")
        assert await post(http, f"{gateway}/v1/track", viewed) == (200, SUCCESS)
        # ... and this one is past the syncs of days 2 to 40: day 31 sees both leave.
        later = track(day(40, 5), "Product Viewed", userId="u_3")
        assert await post(http, f"{gateway}/v1/track", later) == (200, SUCCESS)
        await gateway_stats(http, gateway, delivered=9)

        status, audiences = await get(http, f"{gateway}/_gateway/audiences")
        assert status == 200
        assert audiences["lastSync"] == "2026-02-10T00:00:00.000000000Z"
        assert (audiences["syncClock"], audiences["syncEverySeconds"]) == ("traffic", 86400.0)
        assert audiences["stats"] == {"observed": 5, "events": 2, "duplicates": 0,
                                      "unusable": 0, "conflicts": 0, "syncs": 40, "emitted": 4}
        for user in ("u_1", "u_2"):
            assert await label_history(http, mock_url, KEY, userId=user) == [
                {"eventTime": "2026-01-02T00:00:00.000Z", "value": "true"},
                {"eventTime": "2026-02-01T00:00:00.000Z", "value": "false"},
            ]

        # An explicit sync: not before the last one; without a time, at the latest message.
        status, body = await post(http, f"{gateway}/_gateway/audiences/sync",
                                  {"now": "2026-02-09T00:00:00Z"})
        assert (status, body["error"]["code"]) == (400, "invalid_body")
        status, body = await post(http, f"{gateway}/_gateway/audiences/sync", {})
        assert (status, body) == (200, {"syncedAt": "2026-02-10T05:00:00.000000000Z",
                                        "emitted": 0, "messageIds": []})
        order = track(day(40, 6), userId="u_1")
        assert await post(http, f"{gateway}/v1/track", order) == (200, SUCCESS)
        status, body = await post(http, f"{gateway}/_gateway/audiences/sync",
                                  {"now": "2026-02-10T07:00:00+00:00"})
        assert (status, body["syncedAt"], body["emitted"]) == (
            200, "2026-02-10T07:00:00.000000000Z", 1)
        await gateway_stats(http, gateway, delivered=11)
        history = await label_history(http, mock_url, KEY, anonymousId="a_1")
        assert history[-1] == {"eventTime": "2026-02-10T07:00:00.000Z", "value": "true"}
        status, message = await get(http, f"{gateway}/_gateway/messages/{body['messageIds'][0]}")
        assert (status, message["state"], message["message"]["traits"]) == (
            200, "delivered", {KEY: True})


async def test_the_gateway_syncs_on_a_wall_clock_timer(
    mock_url: str, token: str, http: ClientSession
) -> None:
    now = day(5)
    definitions = parse_definitions({"audiences": [AUDIENCE]})
    async with run_gateway(mock_url, token, definitions=definitions, sync_every=0.05,
                           sync_clock="wall", clock=lambda: now) as gateway:
        assert await post(http, f"{gateway}/v1/track",
                          track(day(4), userId="u_9")) == (200, SUCCESS)
        events = await mock_events(http, mock_url, min_count=2)
    assert [(e["eventType"], e["eventTime"], e["labels"]) for e in events] == [
        (ORDER, "2026-01-05T00:00:00.000Z", {}),
        ("identify", "2026-01-06T00:00:00.000Z", {KEY: "true"}),
    ]


async def test_a_gateway_without_definitions_has_no_audience_routes(
    mock_url: str, token: str, http: ClientSession
) -> None:
    async with run_gateway(mock_url, token) as gateway:
        status, body = await post(http, f"{gateway}/_gateway/audiences/sync", {})
        assert (status, body["error"]["code"]) == (404, "not_found")
        status, body = await get(http, f"{gateway}/_gateway/audiences")
        assert (status, body["error"]["code"]) == (404, "not_found")
