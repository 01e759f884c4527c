"""The two OpenAPI files in contracts/ are valid and, together, describe exactly the mock's routes.

openapi-spec-validator is not installed, so validity is checked with the OpenAPI 3.1 meta-schema
that schemathesis bundles (the OAI's own schema), plus what that meta-schema leaves out: every
Schema Object is a valid JSON Schema 2020-12 and every local $ref resolves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest
import schemathesis
from jsonschema import Draft202012Validator

from mockserver.http.routes import ROUTES
from tests.contract.openapi_walk import (
    HTTP_METHODS,
    _operations,
    _read,
    _refs,
    _resolve,
    _schema_objects,
)

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
INGEST_SPEC = CONTRACTS / "pointillist-openapi.yaml"
ADMIN_SPEC = CONTRACTS / "mock-admin-openapi.yaml"
SPECS = [INGEST_SPEC, ADMIN_SPEC]


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_the_spec_is_valid_openapi_3_1(path: Path) -> None:
    spec = _read(path)
    assert spec["openapi"] == "3.1.0"
    schemathesis.openapi.from_path(path).validate()  # raises on any meta-schema violation


def test_the_meta_schema_check_rejects_a_broken_spec() -> None:
    broken = _read(ADMIN_SPEC)
    broken["paths"]["/_mock/health"]["get"]["responses"] = "ok"
    with pytest.raises(jsonschema_rs.ValidationError):
        schemathesis.openapi.from_dict(broken).validate()


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_schema_object_is_valid_json_schema_2020_12(path: Path) -> None:
    found = list(_schema_objects(_read(path)))
    assert len(found) > 10
    for where, schema in found:
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            pytest.fail(f"{path.name} {where}: {exc.message}")


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_local_reference_resolves(path: Path) -> None:
    spec = _read(path)
    refs = set(_refs(spec))
    assert refs
    for ref in refs:
        _resolve(spec, ref)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_operation_has_a_unique_id_and_documents_401_when_it_needs_a_token(
    path: Path,
) -> None:
    spec = _read(path)
    ids = [op["operationId"] for item in spec["paths"].values()
           for method, op in item.items() if method in HTTP_METHODS]
    assert len(ids) == len(set(ids)) == len(_operations(spec))
    for item in spec["paths"].values():
        for method, op in item.items():
            if method in HTTP_METHODS and op.get("security", spec["security"]):
                assert "401" in op["responses"], op["operationId"]


def test_every_route_is_described_in_exactly_one_spec_and_every_operation_has_a_route() -> None:
    routes = [(route.method, route.path) for route in ROUTES]
    assert len(routes) == len(set(routes))
    ingest, admin = _operations(_read(INGEST_SPEC)), _operations(_read(ADMIN_SPEC))
    for route in routes:
        assert (route in ingest) != (route in admin), f"{route} must be in exactly one spec"
    assert ingest | admin == set(routes)
    assert ingest & admin == set()


def test_the_ingest_spec_holds_the_ingest_routes_and_the_admin_spec_the_mock_routes() -> None:
    assert _operations(_read(INGEST_SPEC)) == {("POST", "/event"), ("POST", "/events")}
    assert {path for _, path in _operations(_read(ADMIN_SPEC))} == {
        "/_mock/health", "/_mock/events", "/_mock/actor", "/_mock/actors", "/_mock/conflicts",
        "/_mock/rejected", "/_mock/stats", "/_mock/reset", "/_mock/faults",
        "/_mock/labels/history", "/_mock/stream", "/_mock/snapshot",
    }


def test_the_whole_admin_spec_is_marked_as_a_mock_extension() -> None:
    spec = _read(ADMIN_SPEC)
    assert spec["x-mock-extension"] is True
    assert spec["info"]["x-mock-extension"] is True
    for item in spec["paths"].values():
        for method, op in item.items():
            if method in HTTP_METHODS:
                assert op["x-mock-extension"] is True, op["operationId"]


def test_the_admin_specs_stored_event_is_the_ingest_specs_event() -> None:
    ingest_event = _read(INGEST_SPEC)["components"]["schemas"]["Event"]
    admin_event = _read(ADMIN_SPEC)["components"]["schemas"]["Event"]
    assert _without_descriptions(admin_event) == _without_descriptions(ingest_event)
