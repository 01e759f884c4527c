"""contracts/segment-tracking-openapi.yaml is valid OpenAPI 3.1 and describes exactly the
gateway's routes (connector.gateway.create_gateway_app), with the gateway's own enums and limits.

Validity is checked as tests/contract/test_spec_routes.py checks the mock's specs: the OpenAPI 3.1
meta-schema that schemathesis bundles, every Schema Object a valid JSON Schema 2020-12, every
local $ref resolving.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
import schemathesis
from jsonschema import Draft202012Validator

from connector.config import DeliveryConfig
from connector.engage.definitions import parse_definitions
from connector.gateway.admin import MAX_PAGE
from connector.gateway.app import create_gateway_app
from connector.gateway.browser import BROWSER_ROUTES
from connector.gateway.outbox import COUNTERS, COVERAGE_COUNTERS, PLAN_COUNTERS
from connector.gateway.settings import GatewaySettings
from connector.gateway.tracking import ROUTES, DropReason
from connector.messages import MESSAGE_TYPES
from tests.contract.openapi_walk import (
    HTTP_METHODS,
    _operations,
    _read,
    _refs,
    _resolve,
    _schema_objects,
)

SPEC_PATH = Path(__file__).resolve().parents[2] / "contracts" / "segment-tracking-openapi.yaml"
SEGMENT_STATUSES = {"200", "400"}  # what Segment itself answers
EXTENSION_STATUSES = {"401", "408", "503"}  # what only the gateway answers


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return _read(SPEC_PATH)


def _template(path: str) -> str:
    """A path with its parameter names erased: /a/{message_id} and /a/{messageId} are one."""
    return re.sub(r"\{[^}]+\}", "{}", path)


DELIVERY = DeliveryConfig(url="http://127.0.0.1:9", token="t")
# The Engage routes exist only on a gateway started with definitions.
DEFINITIONS = parse_definitions({"audiences": [
    {"name": "Buyers", "event": "Order Completed", "within_days": 30}]})
CDN_PATHS = {"/analytics.js/v1/{}/analytics.min.js", "/analytics-next/bundles/{}",
             "/v1/projects/{}/settings"}
ENGAGE_PATHS = {"/_gateway/audiences", "/_gateway/audiences/sync"}


def _gateway_routes(settings: GatewaySettings) -> list[tuple[str, str]]:
    app = create_gateway_app(settings)  # routes only: nothing starts before the app runs
    return [(route.method, route.resource.canonical) for route in app.router.routes()
            if route.resource is not None]


def _each_operation(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in spec["paths"].items()
            for method, op in item.items() if method in HTTP_METHODS]


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["components"]["schemas"][name]
    return schema


def test_the_spec_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    schemathesis.openapi.from_path(SPEC_PATH).validate()  # raises on any meta-schema violation


def test_every_schema_object_is_valid_json_schema_2020_12(spec: dict[str, Any]) -> None:
    found = list(_schema_objects(spec))
    assert len(found) > 30
    for where, schema in found:
        try:
            Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            pytest.fail(f"{where}: {exc.message}")


def test_every_local_reference_resolves(spec: dict[str, Any]) -> None:
    refs = set(_refs(spec))
    assert len(refs) > 20
    for ref in refs:
        _resolve(spec, ref)


def test_every_operation_has_a_unique_id(spec: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _each_operation(spec)]
    assert len(ids) == len(set(ids)) == len(_operations(spec)) == 30


def _served(settings: GatewaySettings) -> set[tuple[str, str]]:
    routes = _gateway_routes(settings)
    assert len(routes) == len(set(routes))
    # aiohttp adds HEAD to every GET route by itself; the spec describes the GET.
    heads = {path for method, path in routes if method == "HEAD"}
    gets = {path for method, path in routes if method == "GET"}
    assert heads == gets
    return {(method, _template(path)) for method, path in routes if method != "HEAD"}


def test_every_gateway_route_is_in_the_spec_and_every_operation_is_a_route(
    spec: dict[str, Any],
) -> None:
    described = {(method, _template(path)) for method, path in _operations(spec)}
    with_engage = _served(GatewaySettings(delivery=DELIVERY, definitions=DEFINITIONS))
    assert with_engage == described
    assert _served(GatewaySettings(delivery=DELIVERY)) == {
        (method, path) for method, path in described if path not in ENGAGE_PATHS}
    assert {path for method, path in described if path.startswith("/v1/") and method == "POST"} == {
        f"/v1/{route}" for route in (*ROUTES, *BROWSER_ROUTES)}
    assert {path for method, path in described if path in CDN_PATHS} == CDN_PATHS
    for path in ENGAGE_PATHS:
        for op in spec["paths"][path].values():
            assert "404" in op["responses"], path  # what a gateway without definitions says


def test_the_segment_routes_answer_what_segment_answers_plus_marked_extensions(
    spec: dict[str, Any],
) -> None:
    responses = spec["components"]["responses"]
    for method, path, op in _each_operation(spec):
        if not path.startswith("/v1/") or method != "POST":
            continue
        assert "x-gateway-extension" not in op, op["operationId"]
        assert "security" not in op, op["operationId"]  # the spec's: Basic, Bearer or the body
        assert set(op["responses"]) == SEGMENT_STATUSES | EXTENSION_STATUSES, op["operationId"]
        for status in EXTENSION_STATUSES:
            ref = op["responses"][status]["$ref"]
            assert responses[ref.rsplit("/", 1)[1]]["x-gateway-extension"] is True
        for status in SEGMENT_STATUSES:
            ref = op["responses"][status]["$ref"]
            assert "x-gateway-extension" not in responses[ref.rsplit("/", 1)[1]]
        body = op["requestBody"]
        body = _resolve(spec, body["$ref"]) if "$ref" in body else body
        assert body["required"] is True
    assert spec["security"] == [{"writeKeyBasic": []}, {"writeKeyBearer": []}, {}]
    assert set(spec["components"]["securitySchemes"]) == {"writeKeyBasic", "writeKeyBearer"}


def test_every_administration_route_is_a_gateway_extension_without_a_write_key(
    spec: dict[str, Any],
) -> None:
    admin = [(path, op) for _, path, op in _each_operation(spec) if path.startswith("/_gateway/")]
    assert len(admin) == 12
    for path, op in admin:
        assert op["x-gateway-extension"] is True, path
        assert op["security"] == [], path
        assert "401" not in op["responses"], path


def test_the_spec_uses_the_gateways_own_counters_reasons_types_and_limits(
    spec: dict[str, Any],
) -> None:
    stats = spec["paths"]["/_gateway/stats"]["get"]
    waits = [_resolve(spec, p["$ref"])["name"] if "$ref" in p else p["name"]
             for p in stats["parameters"]]
    assert waits == [f"min_{name}" for name in COUNTERS] + ["max_pending", "timeout"]
    assert _schema(spec, "Stats")["required"] == list(COUNTERS)
    assert set(_schema(spec, "Stats")["properties"]) == {
        *COUNTERS, *PLAN_COUNTERS, *COVERAGE_COUNTERS, "waitSatisfied"}  # plan's: with a plan
    timeout = stats["parameters"][-1]["schema"]
    default = GatewaySettings(delivery=DELIVERY)
    assert (timeout["minimum"], timeout["maximum"]) == (0, default.max_wait_seconds)

    assert _schema(spec, "DroppedFields")["properties"]["reason"]["enum"] == list(
        get_args(DropReason))
    assert set(_schema(spec, "StoredMessage")["properties"]["type"]["enum"]) == set(
        MESSAGE_TYPES)
    assert _schema(spec, "StoredMessage")["properties"]["messageId"]["maxLength"] == (
        default.limits.max_message_id_length)
    assert spec["components"]["parameters"]["Limit"]["schema"]["maximum"] == MAX_PAGE
    assert _schema(spec, "Count")["maximum"] == 2**62
