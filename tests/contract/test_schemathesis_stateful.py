"""Schemathesis stateful runs against a live mock: sequences of calls across both OpenAPI files.

The ingest API (contracts/pointillist-openapi.yaml) and the inspection API
(contracts/mock-admin-openapi.yaml) are one service, so they are merged into one schema here (the
inspection file's components renamed `Admin*` so the two never clash) and joined by OpenAPI
links that say how a call's data feeds the next one: an event stored, then looked up by its
eventType and its userId; a batch stored, then looked up; a reset, then the stats; the actors
listed, then one actor's events. The links live in this test, not in the contract files: they
describe how to explore the mock, not what it serves.

Schemathesis (4.x `schema.as_state_machine()`) draws scenarios of linked calls and runs every
built-in check on each answer. On top of that, the state machine keeps a model of the tenant:
how many events were stored since the scenario began (its setup resets the tenant) or since a
generated POST /_mock/reset; every GET /_mock/stats and every unfiltered GET /_mock/events must
agree with it. That is the stateful property: whatever sequence of writes, replays, invalid
requests and resets happens, the inspection API reports exactly what was acknowledged.

Fault rules (POST /_mock/faults) and the endless live feed (GET /_mock/stream) are left out:
a generated fault rule would answer 5xx on purpose.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response

from mockserver.http.server import BackgroundServer
from mockserver.settings import Settings
from tests.contract.schemathesis_helpers import REJECTION_STATUSES, _bound_wait

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
INGEST_SPEC = CONTRACTS / "pointillist-openapi.yaml"
ADMIN_SPEC = CONTRACTS / "mock-admin-openapi.yaml"
TOKEN = "schemathesis-stateful"
AUTH = {"apiToken": TOKEN}
LEFT_OUT = ("/_mock/faults", "/_mock/stream")

LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    # (path, method, status) -> link name -> link
    ("/event", "post", "202"): {
        "EventsOfItsType": {"operationId": "getEvents",
                            "parameters": {"query.eventType": "$request.body#/eventType"}},
        "EventsOfItsUser": {"operationId": "getEvents", "parameters": {
            "query.userId": "$request.body#/actors/Customer/userId"}},
        "Stats": {"operationId": "getStats"},
    },
    ("/event", "post", "200"): {"Stats": {"operationId": "getStats"}},
    ("/events", "post", "202"): {
        "EventsOfTheFirstType": {"operationId": "getEvents",
                                 "parameters": {"query.eventType": "$request.body#/0/eventType"}},
        "Stats": {"operationId": "getStats"},
    },
    ("/_mock/reset", "post", "200"): {
        "Stats": {"operationId": "getStats"},
        "Events": {"operationId": "getEvents"},
        "Store": {"operationId": "postEvent"},
    },
    ("/_mock/actors", "get", "200"): {
        "EventsOfTheFirstActor": {"operationId": "getEvents", "parameters": {
            "query.userId": "$response.body#/actors/0/userId"}},
    },
    ("/_mock/stats", "get", "200"): {
        "Store": {"operationId": "postEvent"},
        "StoreMany": {"operationId": "postEvents"},
        "Reset": {"operationId": "postReset"},
        "Actors": {"operationId": "getActors"},
        "Rejected": {"operationId": "getRejected"},
    },
    ("/_mock/events", "get", "200"): {
        "Stats": {"operationId": "getStats"},
        "Store": {"operationId": "postEvent"},
    },
}


def _renamed(node: Any, prefix: str) -> Any:
    """`node` with every local $ref to a component renamed `<prefix><Name>`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                section, name = value.removeprefix("#/components/").split("/", 1)
                out[key] = f"#/components/{section}/{prefix}{name}"
            else:
                out[key] = _renamed(value, prefix)
        return out
    if isinstance(node, list):
        return [_renamed(item, prefix) for item in node]
    return node


def merged_spec() -> dict[str, Any]:
    """Both contract files as one OpenAPI document, with LINKS added."""
    ingest = yaml.safe_load(INGEST_SPEC.read_text(encoding="utf-8"))
    admin = _renamed(yaml.safe_load(ADMIN_SPEC.read_text(encoding="utf-8")), "Admin")
    spec = copy.deepcopy(ingest)
    components = spec["components"]
    for section, entries in admin["components"].items():
        if section == "securitySchemes":
            components[section] = {**entries, **components.get(section, {})}
            continue
        for name, value in entries.items():
            components.setdefault(section, {})[f"Admin{name}"] = value
    for path, operations in admin["paths"].items():
        if path in LEFT_OUT:
            continue
        assert path not in spec["paths"]
        spec["paths"][path] = operations
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation.setdefault("security", admin["security"])
    for (path, method, status), links in LINKS.items():
        response = spec["paths"][path][method]["responses"][status]
        response.setdefault("links", {}).update(links)
    return spec


def load_schema() -> Any:
    config = SchemathesisConfig.from_dict({
        "checks": {"negative_data_rejection": {"expected-statuses": REJECTION_STATUSES}},
        "generation": {"with-security-parameters": False},
    })
    return schemathesis.openapi.from_dict(merged_spec(), config=config)


SCHEMA = load_schema()
# Generating an event that satisfies both Event and EventLimits is slow (about 80 ms): this
# budget (10 scenarios of up to 6 calls) keeps the run to a few seconds on two cores.
STATEFUL = settings(
    max_examples=10,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                           HealthCheck.data_too_large],
)


class MockStateMachine(SCHEMA.as_state_machine()):  # type: ignore[misc]
    """Every call on one tenant of the live mock, checked against a model of that tenant."""

    url = ""  # set by the test
    stored = 0  # events acknowledged (202) since the tenant was last reset
    steps: list[tuple[str, str, int]] = []  # noqa: RUF012 - a class-level log of every call

    def setup(self) -> None:
        response = requests.post(f"{self.url}/_mock/reset", headers=AUTH, timeout=30)
        assert response.json() == {"reset": True}
        self.stored = 0

    def get_call_kwargs(self, case: Case) -> dict[str, Any]:
        return {"base_url": self.url, "headers": AUTH}

    def before_call(self, case: Case) -> None:
        _bound_wait(case)

    def after_call(self, response: Response, case: Case) -> None:
        status = response.status_code
        type(self).steps.append((case.method, case.path, status))
        body = response.json() if status < 500 else None
        if case.path == "/_mock/reset" and status == 200:
            self.stored = 0
        elif case.path == "/event" and status == 202:
            self.stored += 1
        elif case.path == "/events" and status == 202:
            self.stored += len(body["ids"])
        elif case.path == "/_mock/stats" and status == 200:
            assert body["events"] == self.stored, (body, self.stored)
        elif case.path == "/_mock/events" and status == 200 and _unfiltered(case):
            assert body["total"] == self.stored, (body["total"], self.stored)


def _unfiltered(case: Case) -> bool:
    query = case.query if isinstance(case.query, dict) else {}
    return not set(query) - {"limit", "offset", "order", "min_count", "timeout"}


def test_stateful_sequences_across_both_contracts_match_a_model_of_the_tenant() -> None:
    with BackgroundServer(Settings(port=0, tokens=frozenset({TOKEN}))) as server:
        MockStateMachine.url = server.url
        MockStateMachine.steps = []
        MockStateMachine.run(settings=STATEFUL)
    steps = MockStateMachine.steps
    # The run exercised the links: events were stored and then read back, resets happened.
    seen = {(method, path, status) for method, path, status in steps}
    assert ("POST", "/event", 202) in seen
    assert ("POST", "/events", 202) in seen
    assert ("GET", "/_mock/stats", 200) in seen
    assert ("GET", "/_mock/events", 200) in seen
    assert ("POST", "/_mock/reset", 200) in seen
    assert all(status < 500 for _, _, status in steps)


def test_the_merged_schema_holds_every_route_of_both_files_but_the_left_out_ones() -> None:
    ingest = yaml.safe_load(INGEST_SPEC.read_text(encoding="utf-8"))["paths"]
    admin = yaml.safe_load(ADMIN_SPEC.read_text(encoding="utf-8"))["paths"]
    merged = merged_spec()["paths"]
    assert set(merged) == (set(ingest) | set(admin)) - set(LEFT_OUT)
    links = {name for (path, method, status) in LINKS
             for name in merged[path][method]["responses"][status]["links"]}
    assert links == {name for group in LINKS.values() for name in group}
