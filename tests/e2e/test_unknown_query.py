"""An unknown query parameter is a 400 invalid_query on every /_mock/* and /_gateway/* route,
naming it and listing what the route takes: ignoring it would answer another question
(`GET /_mock/events?user_id=nobody` would list every event)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web

from connector.config import DeliveryConfig
from connector.engage.definitions import load_definitions
from connector.gateway.app import create_gateway_app
from connector.gateway.serving import serving as serving_gateway
from connector.gateway.settings import GatewaySettings
from mockserver.http.app import create_app
from mockserver.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BOGUS = "user_id"


def _gateway_settings(mock_url: str) -> GatewaySettings:
    return GatewaySettings(delivery=DeliveryConfig(url=mock_url, token="t"), port=0,
                           definitions=load_definitions(ROOT / "fixtures" / "audiences.yaml"))


def _routes(app: web.Application, prefix: str) -> list[tuple[str, str, frozenset[str]]]:
    """(method, path, accepted parameters) of every route under `prefix`."""
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method == "HEAD" or not path.startswith(prefix):
            continue
        accepted = getattr(route.handler, "accepted_query", None)
        assert accepted is not None, f"{route.method} {path} declares no accepted parameters"
        found.append((route.method, path.replace("{message_id}", "m-1"), accepted))
    return sorted(found)


MOCK_ROUTES = _routes(create_app(Settings()), "/_mock/")
GATEWAY_ROUTES = _routes(create_gateway_app(_gateway_settings("http://127.0.0.1:9")),
                         "/_gateway/")


@pytest.fixture
async def gateway_url(mock_url: str) -> AsyncIterator[str]:
    async with serving_gateway(_gateway_settings(mock_url)) as url:
        yield url


async def _check(http: ClientSession, method: str, url: str, accepted: frozenset[str]) -> None:
    async with http.request(method, url, params={BOGUS: "nobody"}, json={}) as response:
        body: dict[str, Any] = await response.json()
    assert response.status == 400, body
    error = body["error"]
    assert error["code"] == "invalid_query"
    assert f'"{BOGUS}"' in error["message"]
    assert error["details"] == {"parameter": BOGUS, "accepted": sorted(accepted)}
    for name in accepted:
        assert name in error["message"]


def test_every_admin_route_is_covered() -> None:
    paths = {path for _, path, _ in MOCK_ROUTES + GATEWAY_ROUTES}
    assert {"/_mock/events", "/_mock/stream", "/_mock/faults", "/_gateway/stats",
            "/_gateway/audiences/sync", "/_gateway/messages/m-1", "/_gateway/violations"} <= paths


@pytest.mark.parametrize(("method", "path", "accepted"), MOCK_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in MOCK_ROUTES])
async def test_the_mock_refuses_an_unknown_parameter(
        http: ClientSession, mock_url: str, method: str, path: str,
        accepted: frozenset[str]) -> None:
    await _check(http, method, f"{mock_url}{path}", accepted)


@pytest.mark.parametrize(("method", "path", "accepted"), GATEWAY_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in GATEWAY_ROUTES])
async def test_the_gateway_refuses_an_unknown_parameter(
        http: ClientSession, gateway_url: str, method: str, path: str,
        accepted: frozenset[str]) -> None:
    await _check(http, method, f"{gateway_url}{path}", accepted)


async def test_the_gateway_stats_lists_its_waits(http: ClientSession, gateway_url: str) -> None:
    async with http.get(f"{gateway_url}/_gateway/stats", params={"min_sent": "1"}) as response:
        assert response.status == 400
    async with http.get(f"{gateway_url}/_gateway/stats", params={"wait": "1"}) as response:
        error = (await response.json())["error"]
    assert response.status == 400
    assert error["details"]["parameter"] == "wait"
    assert "min_delivered" in error["details"]["accepted"]


async def test_a_known_filter_still_filters(http: ClientSession, mock_url: str) -> None:
    async with http.get(f"{mock_url}/_mock/events", params={"userId": "nobody"}) as response:
        assert response.status == 200
        assert (await response.json())["total"] == 0
