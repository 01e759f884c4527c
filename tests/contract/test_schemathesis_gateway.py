"""Schemathesis against a live gateway, with a live mock behind it: contracts/segment-tracking-
openapi.yaml, positive and negative data.

One real mock (strict token list) and one real gateway (in-memory outbox, one write key,
Engage definitions so that every route of the spec exists, delivering to the mock) serve the
whole module, each on its own event loop in a background
thread on 127.0.0.1 with an ephemeral port, because schemathesis cases are synchronous. Every
built-in check is on: no 5xx, documented status codes, content types and headers, response
bodies that match their schemas, valid data accepted, invalid data rejected, undeclared methods
answered 405 with an Allow header.

Before the module runs, the gateway is seeded with a message in every state (delivered,
skipped, dead letter, dropped) under the ids the spec's examples use, so the administration
routes answer real 200 bodies and the schemas are checked against data, not only empty lists.
Generated waits (`GET /_gateway/stats?min_<counter>=N`) are shortened to 50 ms.

Generation is derandomized so a failure reproduces; the example budget keeps the module around
half a minute on two cores.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.schemas import OpenApiSchema

from connector.config import DeliveryConfig
from connector.engage.definitions import parse_definitions
from connector.gateway.serving import serving
from connector.gateway.settings import GatewaySettings
from httpkit.serving import BackgroundServer as GatewayThread
from mockserver.http.server import BackgroundServer
from mockserver.settings import Settings
from tests.contract.schemathesis_helpers import bound_timeout

SPEC = Path(__file__).resolve().parents[2] / "contracts" / "segment-tracking-openapi.yaml"

TOKEN = "schemathesis-gateway-token"
# The seeded gateway's own tenant: the same messageIds (Idempotency-Keys) with other bodies
# (another receivedAt) would be a 409 in the live gateway's tenant.
SEEDED_TOKEN = "schemathesis-gateway-seeded"
WRITE_KEY = "WK-schemathesis"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
# Schemathesis's default statuses for "invalid data was rejected", plus 413: a redrive body
# over the gateway's 500 KB limit, as the spec documents.
REJECTION_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428",
                      "429", "5xx"]
DAY = 24 * 60 * 60.0
DEFINITIONS = parse_definitions({"audiences": [
    {"name": "Buyers", "event": "Order Completed", "within_days": 30}]})
SEED_STATS = {"received": 5, "deduplicated": 0, "dropped": 1, "skipped": 1, "delivered": 2,
              "pending": 0, "deadLettered": 1, "labelsLeftOut": 0, "loneSurrogatesRefused": 0}

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)


def background_gateway(settings: GatewaySettings) -> GatewayThread:
    """A gateway on its own event loop in a thread, for synchronous callers."""
    return GatewayThread(lambda: serving(settings))


def _seed(gateway: str) -> None:
    """A message in every state, under the ids of the spec's examples."""
    with requests.Session() as http:
        http.headers.update(AUTH)
        batch = {"batch": [
            {"type": "identify", "userId": "u_1", "traits": {"plan": "pro"},
             "messageId": "example-identify"},
            {"type": "track", "userId": "u_1", "event": "Order Completed",
             "properties": {"revenue": 42.5}, "messageId": "example-track"},
            {"type": "page", "anonymousId": "a_9", "name": "Home", "messageId": "example-page"},
            {"type": "identify", "userId": "u_2", "traits": "not an object",
             "messageId": "example-deadletter"},
            {"type": "track", "userId": "u_3", "messageId": "example-dropped"},
        ]}
        answer = http.post(f"{gateway}/v1/batch", json=batch)
        assert (answer.status_code, answer.json()) == (200, {"success": True})
        waited = http.get(f"{gateway}/_gateway/stats", params={
            "min_delivered": 2, "min_skipped": 1, "min_deadLettered": 1, "timeout": 20}).json()
        assert waited == {**SEED_STATS, "waitSatisfied": True}


@pytest.fixture(scope="module")
def live_mock() -> Iterator[str]:
    with BackgroundServer(Settings(port=0, tokens=frozenset({TOKEN, SEEDED_TOKEN}))) as server:
        yield server.url


@contextmanager
def _seeded_gateway(mock_url: str, token: str) -> Iterator[str]:
    """With Engage definitions, so that every route of the spec exists (the syncs run only
    when asked: the wall-clock interval is a day)."""
    delivery = DeliveryConfig(url=mock_url, token=token, backoff_base=0.0, backoff_max=0.0)
    settings = GatewaySettings(delivery=delivery, port=0, write_keys=frozenset({WRITE_KEY}),
                               definitions=DEFINITIONS, sync_every=DAY)
    with background_gateway(settings) as gateway:
        _seed(gateway.url)
        yield gateway.url


@pytest.fixture(scope="module")
def live_gateway(live_mock: str) -> Iterator[str]:
    """The gateway schemathesis writes to."""
    with _seeded_gateway(live_mock, TOKEN) as url:
        yield url


@pytest.fixture(scope="module")
def seeded_gateway(live_mock: str) -> Iterator[str]:
    """A gateway holding only the seed, for exact answers."""
    with _seeded_gateway(live_mock, SEEDED_TOKEN) as url:
        yield url


# A valid `now` before the last sync is refused (400), as documented: syncs never go back in
# time, and generated times come in any order. (An `operations` entry must not be combined with
# `.include(...)`: schemathesis 4.32 then ignores the include filter.)
SYNC_MAY_REFUSE = [{"include-operation-id": "syncAudiences", "checks": {
    "positive_data_acceptance": {"expected-statuses": ["2xx", "400"]}}}]


def _load(mode: GenerationMode, *, phases: dict[str, Any] | None = None,
          operations: list[dict[str, Any]] | None = None) -> OpenApiSchema:
    config = SchemathesisConfig.from_dict({
        "checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}},
        # The write key goes in explicitly (AUTH); generated ones would only ever be 401s.
        "generation": {"mode": mode.value, "with-security-parameters": False},
        "phases": phases or {},
        **({"operations": operations} if operations else {}),
    })
    return schemathesis.openapi.from_path(SPEC, config=config)


def _can_be_invalid(ctx: Any) -> bool:
    """An operation with a body or a query parameter. The others have nothing to make invalid:
    no inputs at all, or only a path segment that may be any string (a messageId)."""
    raw = ctx.operation.definition.raw
    parameters = raw.get("parameters", [])
    return bool(raw.get("requestBody")) or any(p.get("in") != "path" for p in parameters)


def _tracking(ctx: Any) -> bool:
    return bool(ctx.operation.path.startswith("/v1/"))


# Loaded eagerly: schemathesis.pytest.from_fixture (4.32) breaks on pytest 9.2, which removed
# Node._nodeid. The live server's URL is given to each call instead (base_url=...).
POSITIVE = _load(GenerationMode.POSITIVE, operations=SYNC_MAY_REFUSE)
NEGATIVE = _load(GenerationMode.NEGATIVE).include(_can_be_invalid)
# A few generated requests per tracking route, sent without a write key.
ANONYMOUS = _load(GenerationMode.POSITIVE, phases={
    "examples": {"enabled": False}, "coverage": {"enabled": False}}).include(_tracking)


def _bound_wait(case: Case) -> None:
    """Shorten a generated in-range `timeout` (and the 5 s default) of a waiting stats query.

    Only values the gateway accepts are shortened, so a case stays valid or invalid as
    generated.
    """
    query = case.query
    if case.path != "/_gateway/stats" or not isinstance(query, dict):
        return
    if not any(isinstance(name, str) and name.startswith("min_") for name in query):
        return
    bound_timeout(query)


def _call(case: Case, base_url: str, headers: dict[str, str] | None = AUTH) -> Any:
    _bound_wait(case)
    return case.call_and_validate(base_url=base_url, headers=headers)


@POSITIVE.parametrize()
@SETTINGS
def test_the_gateway_accepts_valid_data_and_conforms(case: Case, live_gateway: str) -> None:
    _call(case, live_gateway)


@NEGATIVE.parametrize()
@SETTINGS
def test_the_gateway_rejects_invalid_data_and_conforms(case: Case, live_gateway: str) -> None:
    _call(case, live_gateway)


@ANONYMOUS.parametrize()
@settings(SETTINGS, max_examples=3)
def test_the_tracking_api_without_a_write_key_is_401(case: Case, live_gateway: str) -> None:
    response = _call(case, live_gateway, headers=None)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


# -- the seeded states, each through its documented schema --------------------------------------


def _operation(method: str, path: str) -> Any:
    return POSITIVE[path][method]


@pytest.mark.parametrize(("message_id", "state"), [
    ("example-identify", "delivered"),
    ("example-page", "skipped"),
    ("example-deadletter", "deadletter"),
    ("example-dropped", "dropped"),
])
def test_a_message_in_every_state_conforms(seeded_gateway: str, message_id: str,
                                           state: str) -> None:
    case = _operation("GET", "/_gateway/messages/{messageId}").Case(
        path_parameters={"messageId": message_id})
    response = case.call_and_validate(base_url=seeded_gateway)
    assert response.status_code == 200
    assert (response.json()["messageId"], response.json()["state"]) == (message_id, state)


def test_the_dropped_and_dead_letter_lists_conform(seeded_gateway: str) -> None:
    dropped = _operation("GET", "/_gateway/dropped").Case().call_and_validate(
        base_url=seeded_gateway)
    deadletter = _operation("GET", "/_gateway/deadletter").Case().call_and_validate(
        base_url=seeded_gateway)
    assert [(d["messageId"], d["reason"]) for d in dropped.json()["dropped"]] == [
        ("example-dropped", "missing_event")]
    assert [(m["messageId"], m["error"]["code"]) for m in deadletter.json()["messages"]] == [
        ("example-deadletter", "invalid_type")]


def test_the_audience_routes_conform(seeded_gateway: str) -> None:
    status = _operation("GET", "/_gateway/audiences")
    sync = _operation("POST", "/_gateway/audiences/sync")

    before = status.Case().call_and_validate(base_url=seeded_gateway).json()
    assert {k: before[k] for k in ("syncClock", "syncEverySeconds", "lastSync")} == {
        "syncClock": "wall", "syncEverySeconds": DAY, "lastSync": None}
    assert [(d["key"], d["class"], d["emit"]) for d in before["definitions"]] == [
        ("buyers", "audience", "identify")]
    assert (before["stats"]["observed"], before["stats"]["syncs"]) == (4, 0)

    synced = sync.Case(body={}).call_and_validate(base_url=seeded_gateway)
    assert synced.status_code == 200
    assert synced.json()["emitted"] == 1  # u_1 ordered within the last 30 days
    assert [m.startswith("personas_") for m in synced.json()["messageIds"]] == [True]
    earlier = sync.Case(body={"now": "2000-01-01T00:00:00Z"}).call_and_validate(
        base_url=seeded_gateway)
    assert (earlier.status_code, earlier.json()["error"]["code"]) == (400, "invalid_body")

    after = status.Case().call_and_validate(base_url=seeded_gateway).json()
    assert after["lastSync"] == synced.json()["syncedAt"]
    assert (after["stats"]["syncs"], after["stats"]["emitted"]) == (1, 1)
