"""The pytest plugin as a user meets it: test files run by pytester against real mocks.

Each outer test writes a user's test file, runs pytest on it (in a subprocess where the run
must be a clean process, in-process otherwise, for speed) and checks the exact outcomes and
the text a user reads. The inner tests assert exact values themselves, so a helper returning
the wrong data fails them, and the outcome counts catch a test that was not collected.
"""

from __future__ import annotations

import re
import socket
import sys
import uuid
from collections.abc import Iterator

import pytest

from mockserver.http.server import BackgroundServer
from mockserver.plugin.handle import MockError, MockHandle
from mockserver.settings import Settings
from tests.plugin.pytester_helpers import (
    STRICT_INI,
    USER_HELPERS,
    run_inprocess,
    run_subprocess,
    user_file,
)


@pytest.fixture(scope="module")
def external_mock() -> Iterator[str]:
    """A mock running outside the inner pytest runs, as `pointillist-mock serve` would be."""
    with BackgroundServer(Settings(port=0)) as server:
        yield server.url


def tokens_printed(output: list[str]) -> list[str]:
    return [m.group(1) for line in output if (m := re.search(r"TOKEN=(test-[0-9a-f]{32})", line))]


# -- a user's test file that uses every helper ------------------------------------------------

USAGE = '''
def test_a_urllib_client_and_every_inspection_helper(pointillist_mock):
    mock = pointillist_mock
    assert (mock.event_url, mock.batch_url) == (mock.url + "/event", mock.url + "/events")
    status, first = post(mock, event())
    assert status == 202
    assert post(mock, event("identify", labels={"plan": "team"}, numbers={"seats": 3}))[0] == 202
    batch = mock.send_batch([event("Page Viewed", user_id=None, anonymous_id="a_2"),
                             event("Page Viewed", user_id=None, anonymous_id="a_2")])

    listed = mock.wait_for(4)
    assert [e["event"]["eventType"] for e in listed] == [
        "Order Completed", "identify", "Page Viewed", "Page Viewed"]
    assert listed[0]["id"] == first["id"]
    assert listed[0]["event"] == event()
    assert listed[0]["eventTime"] == "2026-11-28T10:00:00.000Z"
    assert [e["id"] for e in mock.wait_for(2, event_type="Page Viewed")] == batch
    assert [e["event"]["eventType"] for e in mock.events(user_id="u_1")] == [
        "Order Completed", "identify"]
    assert mock.assert_received(1, event_type="identify")[0]["event"]["numbers"] == {"seats": 3}
    assert [e["id"] for e in mock.assert_received(2, anonymous_id="a_2")] == batch
    mock.assert_received(0, event_type="Signed Up")
    assert len(mock.events(since="2026-11-28T10:00:00Z", until="2026-11-28T11:00:00+01:00")) == 4
    assert mock.events(until="2026-11-28T09:59:59Z") == []

    actor = mock.actor(user_id="u_1")
    assert actor["identifiers"] == {"anonymousId": ["a_9"], "userId": ["u_1"]}
    assert (actor["labels"], actor["numbers"], actor["eventCount"]) == (
        {"plan": "team"}, {"seats": 3}, 2)
    assert mock.actor(anonymous_id="a_2")["eventCount"] == 2

    found = mock.assert_event("Order Completed", labels={"plan": "pro"},
                              actors={"Customer": {"userId": "u_1"}})
    assert found["id"] == first["id"]
    assert mock.stats() == {
        "events": 4, "eventTypes": {"Order Completed": 1, "Page Viewed": 2, "identify": 1},
        "actors": 2, "stitchedActors": 1, "conflicts": 0, "rejected": 0,
        "idempotentReplays": 0, "duplicateIdempotencyKeys": 0,
    }
    mock.assert_nothing_rejected()
    print(f"TOKEN={mock.token}")


def test_conflicts_rejections_idempotency_and_reset(pointillist_mock):
    mock = pointillist_mock
    mock.send(event(user_id="u_1", anonymous_id="a_9"))
    clash = mock.send(event(user_id="u_2", anonymous_id="a_9"))
    assert mock.conflicts() == [{
        "actorType": "Customer", "identifier": {"name": "anonymousId", "value": "a_9"},
        "existingUserId": "u_1", "attemptedUserId": "u_2", "eventId": clash,
    }]
    with pytest.raises(MockError) as refused:
        mock.send(event(eventTime="yesterday"))
    assert (refused.value.status, refused.value.code) == (400, "invalid_payload")
    assert [(r["status"], r["code"], r["method"], r["path"]) for r in mock.rejected()] == [
        (400, "invalid_payload", "POST", "/event")]
    with pytest.raises(AssertionError, match="the mock rejected 1 request"):
        mock.assert_nothing_rejected()

    once = mock.send_batch([event("Signed Up")], idempotency_key="k-1")
    assert mock.send_batch([event("Signed Up")], idempotency_key="k-1") == once
    assert mock.send(event("Trial Started"), idempotency_key="k-2") == mock.send(
        event("Trial Started"), idempotency_key="k-2")
    with pytest.raises(MockError) as reused:
        mock.send(event("Other"), idempotency_key="k-2")
    assert (reused.value.status, reused.value.code) == (409, "idempotency_key_reused")
    assert mock.stats()["idempotentReplays"] == 2
    assert mock.stats()["events"] == 4

    with pytest.raises(MockError) as missing:
        mock.actor(user_id="nobody")
    assert (missing.value.status, missing.value.code) == (404, "actor_not_found")
    assert str(missing.value) == (
        "GET /_mock/actor -> 404 actor_not_found: no actor of type 'Customer' has userId 'nobody'")
    assert [e["event"]["eventType"] for e in mock.events(eventType="Signed Up")] == ["Signed Up"]
    assert [e["id"] for e in mock.events(userId="u_2")] == [clash]  # the conflict did not merge
    assert mock.events(user_id="u_2") == mock.events(userId="u_2")
    with pytest.raises(TypeError, match="unknown event filter 'type'; use event_type, user_id"):
        mock.events(type="Signed Up")
    with pytest.raises(TypeError, match="event filter 'userId' given twice"):
        mock.events(user_id="u_1", userId="u_1")

    mock.reset()
    assert (mock.events(), mock.conflicts(), mock.rejected()) == ([], [], [])
    assert mock.stats() == {"events": 0, "eventTypes": {}, "actors": 0, "stitchedActors": 0,
                            "conflicts": 0, "rejected": 0, "idempotentReplays": 0,
                            "duplicateIdempotencyKeys": 0}


async def test_an_aiohttp_client_in_an_async_test(pointillist_mock):
    import aiohttp

    async with aiohttp.ClientSession(headers=pointillist_mock.headers) as session:

        async def deliver():
            for n in range(3):
                body = event(numbers={"n": n})
                async with session.post(pointillist_mock.event_url, json=body) as response:
                    assert response.status == 202

        delivery = asyncio.create_task(deliver())
        listed = await asyncio.to_thread(pointillist_mock.wait_for, 3)
        await delivery
    assert [e["event"]["numbers"] for e in listed] == [{"n": 0}, {"n": 1}, {"n": 2}]
    pointillist_mock.assert_received(3, event_type="Order Completed", user_id="u_1")
'''


def test_a_user_test_file_using_every_helper_passes(pytester: pytest.Pytester) -> None:
    user_file(pytester, USAGE)
    # A separate process: the entry point alone must bring the fixtures in.
    result = run_subprocess(pytester, "-s")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        ["pointillist-mock: in-memory mock started on first use of pointillist_mock"]
    )
    assert len(tokens_printed(result.outlines)) == 1


# -- fault injection --------------------------------------------------------------------------

FAULTY = '''
import random
import urllib.error


def deliver(mock, body, key, attempts=10):
    """A user's client under test: retries 429, 5xx and broken connections with the same key."""
    failures = []
    for _ in range(attempts):
        request = urllib.request.Request(mock.event_url, data=json.dumps(body).encode(),
                                         headers={**mock.headers, "Idempotency-Key": key})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read()), failures
        except urllib.error.HTTPError as exc:
            failures.append(exc.code)
        except (OSError, http.client.HTTPException) as exc:
            failures.append(type(exc).__name__)
    raise AssertionError(f"gave up after {failures}")


def test_a_client_rides_out_injected_faults(pointillist_mock):
    mock = pointillist_mock
    unavailable = mock.inject_fault("status", status=503, times=2)
    throttled = mock.inject_fault("status", status=429, retry_after=1, times=1)
    dropped = mock.inject_fault("reset", times=1)
    cut = mock.inject_fault("truncate", times=1)
    status, answer, failures = deliver(mock, event(), "k-1")
    # Stored on the 5th try, whose answer was cut; the 6th is answered as a replay.
    assert failures == [503, 503, 429, "ConnectionResetError", "IncompleteRead"]
    assert (status, answer) == (200, {"id": "evt_0000000001", "duplicate": True})
    mock.assert_received(1)
    assert mock.stats()["idempotentReplays"] == 1
    assert mock.stats()["duplicateIdempotencyKeys"] == 0
    assert [(r["id"], r["kind"], r["fired"], r["active"]) for r in mock.faults()] == [
        (unavailable, "status", 2, False), (throttled, "status", 1, False),
        (dropped, "reset", 1, False), (cut, "truncate", 1, False)]
    assert mock.faults()[1] == {"id": throttled, "kind": "status", "status": 429,
                                "retryAfter": 1, "times": 1, "fired": 1, "considered": 1,
                                "active": False}
    assert mock.clear_faults() == 4
    assert mock.faults() == []


def test_seeded_faults_replay_and_the_helpers_own_calls_report_them(pointillist_mock):
    mock = pointillist_mock
    mock.inject_fault("status", status=429, retryAfter=2, probability=0.3, seed=7)
    draws = random.Random(7)
    expected = [429 if draws.random() < 0.3 else 202 for _ in range(20)]
    got = []
    for _ in range(20):
        try:
            mock.send(event())
            got.append(202)
        except MockError as refused:
            assert (refused.code, refused.details["kind"]) == ("injected_fault", "status")
            got.append(refused.status)
    assert got == expected
    mock.inject_fault("reset", duration_seconds=60)
    with pytest.raises(MockError, match="POST .*/event: the connection broke before a whole "
                                        "answer came"):
        mock.send(event())
    mock.assert_received(expected.count(202))  # the inspection helpers are never faulted
    mock.reset()
    assert mock.faults() == []
    with pytest.raises(MockError) as invalid:
        mock.inject_fault("status", status=404, times=-1)
    assert (invalid.value.status, invalid.value.code) == (400, "invalid_fault_rule")
    assert [v["path"] for v in invalid.value.details["violations"]] == ["$.status", "$.times"]
    with pytest.raises(TypeError, match="fault parameter 'retryAfter' given twice"):
        mock.inject_fault("status", status=429, retry_after=1, retryAfter=1)
'''


def test_a_user_test_file_injecting_faults_passes(pytester: pytest.Pytester) -> None:
    user_file(pytester, "import http.client\n" + FAULTY)
    run_inprocess(pytester).assert_outcomes(passed=2)


# -- failure messages -------------------------------------------------------------------------

FAILING = '''
def sent(mock, *ids):
    print("SENT", mock.token, *ids)


def test_assert_received(pointillist_mock):
    sent(pointillist_mock, pointillist_mock.send(event()), pointillist_mock.send(event("identify")))
    with pytest.raises(MockError):
        pointillist_mock.send(event(actors={}))
    pointillist_mock.assert_received(2, event_type="Order Completed")


def test_wait_for(pointillist_mock):
    sent(pointillist_mock, pointillist_mock.send(event()))
    pointillist_mock.wait_for(1, timeout=0.2, event_type="order_completed")


def test_assert_event(pointillist_mock):
    sent(pointillist_mock, *pointillist_mock.send_batch([
        event(labels={"plan": "pro", "source": "ads"}), event("identify"),
        event(labels={"plan": "team"})]))
    pointillist_mock.assert_event("Order Completed", labels={"plan": "enterprise", "source": "ads"})
'''


def test_failing_assertions_show_what_was_received_and_rejected_instead(
    pytester: pytest.Pytester,
) -> None:
    user_file(pytester, FAILING)
    result = run_inprocess(pytester, "-s")
    result.assert_outcomes(failed=3)
    # What each inner test sent, in order: its token then the ids the mock answered.
    sent = re.finditer(r"SENT (test-\w+(?: evt_\w+)+)", result.stdout.str())
    received, waited, asserted = (m.group(1).split() for m in sent)
    actors = '"actors":{"Customer":{"anonymousId":"a_9","userId":"u_1"}}'
    result.stdout.fnmatch_lines([
        "*_ test_assert_received _*",
        "E * AssertionError: expected 2 event(s) matching event_type='Order Completed', got 1",
        "E * this tenant received 2 event(s) (* matches the filters):",
        f"E *   * {received[1]}  'Order Completed' at 2026-11-28T10:00:00.000Z  {{{actors},*",
        f"E *     {received[2]}  'identify' at 2026-11-28T10:00:00.000Z  *",
        "E * the mock rejected 1 request(s), newest first:",
        "E *   400 invalid_payload: POST /event: the event is invalid: $.actors: *",
        "*- pointillist-mock -*",
        "url:   http://127.0.0.1:*",
        f"token: {received[0]}",
        "*_ test_wait_for _*",
        "E * AssertionError: waited 0.2s for 1 event(s) matching event_type='order_completed', "
        "got 0",
        "E * this tenant received 1 event(s) (* matches the filters):",
        f"E *     {waited[1]}  'Order Completed' at *",
        "*- pointillist-mock -*",
        "url:   http://127.0.0.1:*",
        f"token: {waited[0]}",
        "*_ test_assert_event _*",
        "E * AssertionError: no 'Order Completed' event with "
        "labels={'plan': 'enterprise', 'source': 'ads'}",
        "E * this tenant received 3 event(s):",
        f"E *   {asserted[1]}  'Order Completed' at *",
        "E *       labels[[]'plan']: expected 'enterprise', got 'pro'",
        f"E *   {asserted[2]}  'identify' at *",
        f"E *   {asserted[3]}  'Order Completed' at *",
        "E *       labels[[]'plan']: expected 'enterprise', got 'team'",
        "E *       labels[[]'source']: missing, expected 'ads'",
        f"token: {asserted[0]}",
    ])  # ("[[]" is a literal "[" in these glob patterns)
    # Rejections are listed only where there were some, and no frame of the helpers is shown.
    # (Counted in the failure reports only: pytest's short summary repeats whole messages when CI
    # is set.)
    reports = result.outlines[: result.outlines.index(next(
        line for line in result.outlines if "short test summary info" in line))]
    assert sum("the mock rejected" in line for line in reports) == 1
    assert not any("mockserver/testing.py" in line for line in result.outlines)


def test_a_long_history_is_cut_in_failure_messages(pointillist_mock: MockHandle) -> None:
    pointillist_mock.send_batch([{
        "eventType": f"Step {n}", "eventTime": "2026-11-28T10:00:00Z",
        "actors": {"Customer": {"userId": "u_1"}},
    } for n in range(25)])
    with pytest.raises(AssertionError) as failed:
        pointillist_mock.assert_received(0)
    lines = str(failed.value).splitlines()
    assert lines[:2] == ["expected 0 event(s) matching anything, got 25",
                         "this tenant received 25 event(s):"]
    assert [line.split("  ")[2] for line in lines[2:22]] == [
        f"'Step {n}' at 2026-11-28T10:00:00.000Z" for n in range(20)]
    assert lines[22:] == ["  ... and 5 more"]


# -- isolation --------------------------------------------------------------------------------

ISOLATION = '''
seen = {}


def test_first(pointillist_mock, pointillist_mock_server):
    seen.update(url=pointillist_mock_server, token=pointillist_mock.token)
    assert pointillist_mock.url == pointillist_mock_server
    pointillist_mock.send_batch([event("First"), event("First")])
    pointillist_mock.assert_received(2)


def test_second(pointillist_mock, pointillist_mock_server):
    assert pointillist_mock_server == seen["url"]
    assert pointillist_mock.token != seen["token"]
    assert pointillist_mock.events() == []
    pointillist_mock.send(event("Second"))
    assert [e["event"]["eventType"] for e in pointillist_mock.assert_received(1)] == ["Second"]
    assert pointillist_mock.actor(user_id="u_1")["eventCount"] == 1
    first = MockHandle(seen["url"], seen["token"])
    assert [e["event"]["eventType"] for e in first.events()] == ["First", "First"]
    first.reset()
    assert pointillist_mock.stats()["events"] == 1
'''


def test_tests_of_one_session_share_the_server_but_not_their_tenants(
    pytester: pytest.Pytester,
) -> None:
    user_file(pytester, ISOLATION)
    run_inprocess(pytester).assert_outcomes(passed=2)


# -- pytest-xdist -----------------------------------------------------------------------------

PARALLEL = '''
import os

BARRIER = MockHandle("{barrier_url}", "{barrier_token}")


@pytest.mark.parametrize("kind", ["Left", "Right"])
def test_parallel(pointillist_mock, kind):
    pointillist_mock.send_batch([event(kind)] * 3)
    # Both tests run at once: each waits here until the other has arrived.
    BARRIER.send(event("arrived", labels={{
        "worker": os.environ["PYTEST_XDIST_WORKER"], "token": pointillist_mock.token,
        "url": pointillist_mock.url}}))
    BARRIER.wait_for(2, timeout=20)
    assert [e["event"]["eventType"] for e in pointillist_mock.assert_received(3)] == [kind] * 3
    assert pointillist_mock.stats()["eventTypes"] == {{kind: 3}}
'''


@pytest.mark.parametrize("shared_url", [False, True], ids=["server-per-worker", "shared-url"])
def test_parallel_workers_run_at_once_and_stay_isolated(
    pytester: pytest.Pytester, external_mock: str, shared_url: bool
) -> None:
    import xdist  # noqa: F401  (a dev dependency: this test keeps the plugin's xdist promise)

    barrier = MockHandle(external_mock, f"barrier-{uuid.uuid4().hex}")
    user_file(pytester, PARALLEL.format(barrier_url=external_mock, barrier_token=barrier.token))
    options = [f"--pointillist-mock-url={external_mock}"] if shared_url else []
    result = run_subprocess(pytester, "-n", "2", *options)
    result.assert_outcomes(passed=2)
    arrivals = [e["event"]["labels"] for e in barrier.assert_received(2)]
    assert sorted(a["worker"] for a in arrivals) == ["gw0", "gw1"]
    assert arrivals[0]["token"] != arrivals[1]["token"]
    urls = sorted(a["url"] for a in arrivals)
    if shared_url:
        assert urls == [external_mock, external_mock]
    else:  # each worker started a mock of its own
        assert len(set(urls)) == 2
        assert external_mock not in urls


# -- an already running mock ------------------------------------------------------------------

EXTERNAL = '''
def test_uses_the_running_mock(pointillist_mock, pointillist_mock_server):
    assert pointillist_mock_server == "{url}"
    pointillist_mock.send(event("Sent Elsewhere"))
    print(f"TOKEN={{pointillist_mock.token}}")


def test_second_test_same_mock(pointillist_mock):
    assert pointillist_mock.url == "{url}"
    print(f"TOKEN={{pointillist_mock.token}}")
'''


@pytest.mark.parametrize("given_by", ["option", "ini", "option-over-ini"])
def test_a_running_mock_is_used_instead_of_starting_one(
    pytester: pytest.Pytester, external_mock: str, given_by: str
) -> None:
    pytester.makepyfile(test_user=USER_HELPERS + EXTERNAL.format(url=external_mock))
    ini = STRICT_INI
    if given_by == "ini":
        ini += f"pointillist_mock_url = {external_mock}/\n"
    if given_by == "option-over-ini":  # never contacted: the command line wins
        ini += "pointillist_mock_url = http://127.0.0.1:9\n"
    pytester.makeini(ini)
    options = [f"--pointillist-mock-url={external_mock}/"] if given_by != "ini" else []
    result = run_inprocess(pytester, "-s", *options)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"pointillist-mock: {external_mock}"])
    first, second = tokens_printed(result.outlines)
    assert first != second
    # The events went to the outer mock, under the inner test's token.
    sent = MockHandle(external_mock, first).assert_received(1)
    assert sent[0]["event"]["eventType"] == "Sent Elsewhere"
    assert MockHandle(external_mock, second).stats()["events"] == 0


def test_a_mock_url_where_nothing_answers_errors_every_test_that_needs_it(
    pytester: pytest.Pytester,
) -> None:
    with socket.socket() as bound:  # bound but not listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        user_file(pytester, EXTERNAL.format(url=url) + "\n\ndef test_no_mock():\n    pass\n")
        result = run_inprocess(pytester, f"--pointillist-mock-url={url}")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines([
        f"pointillist-mock at {url}: nothing answers (*Connection refused*); start it with "
        "`pointillist-mock serve`, or unset --pointillist-mock-url / pointillist_mock_url",
    ])


def test_a_mock_url_that_is_not_a_mock_is_refused(
    pytester: pytest.Pytester, external_mock: str
) -> None:
    url = f"{external_mock}/not-here"
    user_file(pytester, EXTERNAL.format(url=url))
    result = run_inprocess(pytester, f"--pointillist-mock-url={url}")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines([
        f"pointillist-mock at {url}: its /_mock/health answers 404: is it a pointillist "
        "mock?; start it with *",
    ])


# -- MockHandle on its own ------------------------------------------------------------------


def test_the_handle_reports_an_unreachable_mock_as_a_mock_error() -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        handle = MockHandle(f"http://127.0.0.1:{bound.getsockname()[1]}/", "t")
        with pytest.raises(MockError, match=r"the mock cannot be reached \(.*refused"):
            handle.stats()
    assert repr(handle) == f"MockHandle(url={handle.url!r}, token='t')"
    assert not handle.url.endswith("/")
    assert handle.headers == {"apiToken": "t", "Content-Type": "application/json"}


def test_the_plugin_module_is_the_registered_entry_point(pytestconfig: pytest.Config) -> None:
    from importlib.metadata import entry_points

    (entry,) = entry_points(group="pytest11", name="pointillist_mock")
    assert entry.value == "mockserver.plugin.pytest_plugin"
    plugin = pytestconfig.pluginmanager.get_plugin("pointillist_mock")
    assert plugin is sys.modules["mockserver.plugin.pytest_plugin"]
