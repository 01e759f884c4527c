"""Schemathesis against a live mock: both OpenAPI files in contracts/, positive and negative data.

One real mock (127.0.0.1, ephemeral port, strict token list) serves the whole module from a
background thread, because schemathesis cases are synchronous. Every built-in check is on: no
5xx, documented status codes, content types and headers, response bodies that match their
schemas, valid data accepted, invalid data rejected, authentication enforced (with a missing and
an invalid token), undeclared methods answered 405 with an Allow header.

Before each inspection operation runs, its tenant is reset and seeded with a small stitched
actor, a conflict and a rejection, so the spec's examples (userId u_1, anonymousId a_9) reach
real 200 bodies: the response schemas are checked against data, not only against empty lists.

Generation is derandomized so a failure reproduces; the example budget keeps the module well
under a minute on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.schemas import OpenApiSchema

from mockserver.http.server import BackgroundServer
from mockserver.settings import Settings
from tests.contract.schemathesis_helpers import REJECTION_STATUSES, _bound_wait

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
INGEST_SPEC = CONTRACTS / "pointillist-openapi.yaml"
ADMIN_SPEC = CONTRACTS / "mock-admin-openapi.yaml"

TOKEN = "schemathesis-token"
OTHER_TOKEN = "schemathesis-other-tenant"
AUTH = {"apiToken": TOKEN}

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    # `seeded` is function-scoped on purpose: it runs once per operation, and the generated
    # requests of that operation only read the tenant (POST /_mock/reset empties it, harmlessly).
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)


def _event(event_type: str, event_time: str, **actor: str) -> dict[str, Any]:
    return {"eventSource": "Segment", "eventType": event_type, "eventTime": event_time,
            "actors": {"Customer": actor}}


# An anonymous page view, the identify that stitches it to u_1, and an order that tries to join
# a_9 to u_2 as well (a conflict: a_9 stays with u_1).
SEED_EVENTS = [
    _event("Page Viewed", "2026-11-28T09:00:00.000Z", anonymousId="a_9"),
    {**_event("identify", "2026-11-28T10:00:00.000Z", userId="u_1", anonymousId="a_9"),
     "labels": {"plan": "pro"}, "numbers": {"ltv": 42.5}},
    _event("Order Completed", "2026-11-28T11:00:00.000Z", userId="u_2", anonymousId="a_9"),
]
SEED_STATS = {
    "events": 3,
    "eventTypes": {"Order Completed": 1, "Page Viewed": 1, "identify": 1},
    "actors": 2,
    "stitchedActors": 1,
    "conflicts": 1,
    "rejected": 1,
    "idempotentReplays": 0,
    "duplicateIdempotencyKeys": 0,
}


@pytest.fixture(scope="module")
def live_mock() -> Iterator[str]:
    """One in-memory mock that only accepts its two tokens, so a wrong token is a real 401."""
    with BackgroundServer(Settings(port=0, tokens=frozenset({TOKEN, OTHER_TOKEN}))) as server:
        yield server.url


@pytest.fixture
def seeded(live_mock: str) -> str:
    """Reset TOKEN's tenant and store SEED_EVENTS plus one rejected request in it."""
    with requests.Session() as http:
        http.headers.update(AUTH)
        assert http.post(f"{live_mock}/_mock/reset").json() == {"reset": True}
        for event in SEED_EVENTS:
            assert http.post(f"{live_mock}/event", json=event).status_code == 202
        assert http.post(f"{live_mock}/event", json={"eventType": "x"}).status_code == 400
        assert http.get(f"{live_mock}/_mock/stats").json() == SEED_STATS
    return live_mock


def _load(spec: Path, mode: GenerationMode, *, phases: dict[str, Any] | None = None
          ) -> OpenApiSchema:
    config = SchemathesisConfig.from_dict({
        "checks": {
            "negative_data_rejection": {"expected-statuses": REJECTION_STATUSES},
        },
        "generation": {
            "mode": mode.value,
            # The token goes in explicitly (AUTH); generated ones would only ever be 401s.
            "with-security-parameters": False,
        },
        "phases": phases or {},
    })
    return schemathesis.openapi.from_path(spec, config=config)


def _has_inputs(ctx: Any) -> bool:
    """An operation with parameters or a body: the others have nothing to make invalid."""
    raw = ctx.operation.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


def _needs_token(ctx: Any) -> bool:
    """Without its own `security`, an operation inherits the spec's: a token is needed."""
    return bool(ctx.operation.definition.raw.get("security", [{}]))


# Loaded eagerly: schemathesis.pytest.from_fixture (4.32) breaks on pytest 9.2, which removed
# Node._nodeid. The live server's URL is given to each call instead (base_url=...).
INGEST_POSITIVE = _load(INGEST_SPEC, GenerationMode.POSITIVE)
INGEST_NEGATIVE = _load(INGEST_SPEC, GenerationMode.NEGATIVE).include(_has_inputs)
# GET /_mock/stream (server-sent events) never ends, so a generated call would wait forever for
# its body, and its 200 has no schema to check beyond "a string". It has no parameters (no
# negative cases), its 401s are checked below (ADMIN_ANONYMOUS), and tests/e2e/test_stream.py
# checks what it sends.
ENDLESS = "/_mock/stream"
ADMIN_POSITIVE = _load(ADMIN_SPEC, GenerationMode.POSITIVE).exclude(path=ENDLESS)
ADMIN_NEGATIVE = _load(ADMIN_SPEC, GenerationMode.NEGATIVE).include(_has_inputs)
# A few generated requests per operation, sent without any token.
FUZZ_ONLY = {"examples": {"enabled": False}, "coverage": {"enabled": False}}
INGEST_ANONYMOUS = _load(INGEST_SPEC, GenerationMode.POSITIVE, phases=FUZZ_ONLY)
ADMIN_ANONYMOUS = _load(ADMIN_SPEC, GenerationMode.POSITIVE, phases=FUZZ_ONLY).include(
    _needs_token)


def _call(case: Case, base_url: str, headers: dict[str, str] | None = AUTH) -> Any:
    _bound_wait(case)
    return case.call_and_validate(base_url=base_url, headers=headers)


@INGEST_POSITIVE.parametrize()
@SETTINGS
def test_ingest_api_accepts_valid_data_and_conforms(case: Case, live_mock: str) -> None:
    _call(case, live_mock)


@INGEST_NEGATIVE.parametrize()
@SETTINGS
def test_ingest_api_rejects_invalid_data_and_conforms(case: Case, live_mock: str) -> None:
    _call(case, live_mock)


@ADMIN_POSITIVE.parametrize()
@SETTINGS
def test_inspection_api_accepts_valid_data_and_conforms(case: Case, seeded: str) -> None:
    _call(case, seeded)


@ADMIN_NEGATIVE.parametrize()
@SETTINGS
def test_inspection_api_rejects_invalid_data_and_conforms(case: Case, seeded: str) -> None:
    _call(case, seeded)


@INGEST_ANONYMOUS.parametrize()
@settings(SETTINGS, max_examples=3)
def test_ingest_api_without_a_token_is_401(case: Case, live_mock: str) -> None:
    response = _call(case, live_mock, headers=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


@ADMIN_ANONYMOUS.parametrize()
@settings(SETTINGS, max_examples=3)
def test_inspection_api_without_a_token_is_401(case: Case, seeded: str) -> None:
    response = _call(case, seeded, headers=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


STATS = ADMIN_POSITIVE["/_mock/stats"]["GET"]


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"apiToken": TOKEN}, None),
        ({"Authorization": f"Bearer {TOKEN}"}, None),
        ({}, {"token": TOKEN}),
    ],
    ids=["apiToken-header", "bearer", "token-query"],
)
def test_each_documented_security_scheme_reaches_the_tenant(
    seeded: str, headers: dict[str, str], query: dict[str, str] | None
) -> None:
    case = STATS.Case(headers=headers, query=query)
    response = case.call_and_validate(base_url=seeded)
    assert response.status_code == 200
    assert response.json() == SEED_STATS


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"apiToken": "not-a-token"}, None),
        ({"Authorization": "Bearer not-a-token"}, None),
        ({}, {"token": "not-a-token"}),
    ],
    ids=["apiToken-header", "bearer", "token-query"],
)
def test_an_unknown_token_is_401_in_every_scheme(
    seeded: str, headers: dict[str, str], query: dict[str, str] | None
) -> None:
    case = STATS.Case(headers=headers, query=query)
    response = case.call_and_validate(base_url=seeded)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_another_token_sees_an_empty_tenant(seeded: str) -> None:
    case = STATS.Case(headers={"apiToken": OTHER_TOKEN})
    response = case.call_and_validate(base_url=seeded)
    assert response.json() == {**SEED_STATS, "events": 0, "eventTypes": {}, "actors": 0,
                               "stitchedActors": 0, "conflicts": 0, "rejected": 0}
