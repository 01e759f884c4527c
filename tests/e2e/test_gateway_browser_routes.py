"""Segment's web endpoints on the gateway, over plain HTTP: the CDN (analytics.js bundle, lazy
chunks, project settings), analytics.js's one-letter routes, CORS, and their bad input. The
same routes in a real browser: tests/browser/test_analytics_js.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import ClientSession

from connector.gateway.settings import default_analytics_js
from tests.e2e.gateway_helpers import counts, gateway_stats, mock_events, run_gateway

WRITE_KEY = "WK-web"
ORIGIN = "http://shop.example:8080"
BUNDLE = f"/analytics.js/v1/{WRITE_KEY}/analytics.min.js"
SETTINGS = f"/v1/projects/{WRITE_KEY}/settings"
CHUNK = "/analytics-next/bundles/schemaFilter.bundle.a6a77355d52c20e3a83d.js"
RECEIVED_AT = datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)
NPM_PACKAGE = Path(__file__).resolve().parents[2] / "web" / "package-lock.json"


async def _get(http: ClientSession, url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    async with http.get(url, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


async def test_the_cdn_serves_the_npm_packages_standalone_build_its_chunks_and_settings(
    mock_url: str, token: str, http: ClientSession
) -> None:
    lock = json.loads(NPM_PACKAGE.read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/@segment/analytics-next"]["version"] == "1.84.3"
    async with run_gateway(mock_url, token, write_keys=frozenset({WRITE_KEY})) as gateway:
        status, headers, body = await _get(http, gateway + BUNDLE, **{"Accept-Encoding": ""})
        assert (status, headers["Content-Type"]) == (200, "application/javascript")
        assert body == default_analytics_js().read_bytes()
        status, headers, body = await _get(http, gateway + CHUNK, **{"Accept-Encoding": ""})
        assert status == 200
        assert body == (default_analytics_js().parent / CHUNK.rsplit("/", 1)[1]).read_bytes()

        status, headers, body = await _get(http, gateway + SETTINGS, Origin=ORIGIN)
        assert status == 200
        assert (headers["Access-Control-Allow-Origin"], headers["Vary"]) == (ORIGIN, "Origin")
        settings = json.loads(body)
        host = gateway.removeprefix("http://")
        assert settings["integrations"]["Segment.io"] == {
            "apiKey": WRITE_KEY, "apiHost": f"{host}/v1", "protocol": "http",
            "unbundledIntegrations": ["Pointillist"], "addBundledMetadata": True,
            "maybeBundledConfigIds": {},
            "versionSettings": {"version": "4.4.7", "componentTypes": ["browser"]}}
        assert settings["integrations"]["Pointillist"]["bundlingStatus"] == "unbundled"
        assert settings["metrics"] == {"sampleRate": 0}  # nothing goes to api.segment.io


async def test_the_one_letter_routes_take_text_plain_with_the_write_key_in_the_body(
    mock_url: str, token: str, http: ClientSession
) -> None:
    track = {"type": "track", "event": "Order Completed", "anonymousId": "a_web",
             "properties": {"revenue": 42.5, "currency": "EUR"}, "writeKey": WRITE_KEY,
             "messageId": "ajs-next-1", "timestamp": "2030-01-01T00:00:00.000Z",
             "sentAt": "2030-01-01T00:00:00.000Z"}
    batch = {"writeKey": WRITE_KEY, "sentAt": "2030-01-01T00:00:01.000Z", "batch": [
        {"type": "identify", "userId": "u_web", "anonymousId": "a_web", "messageId": "ajs-next-2",
         "traits": {"plan": "pro"}, "timestamp": "2030-01-01T00:00:01.000Z"},
        {"type": "page", "anonymousId": "a_web", "messageId": "ajs-next-3", "name": "Home"}]}
    async with run_gateway(mock_url, token, write_keys=frozenset({WRITE_KEY}),
                           clock=lambda: RECEIVED_AT) as gateway:
        for path, body in (("/v1/t", track), ("/v1/b", batch)):
            async with http.post(gateway + path, data=json.dumps(body),
                                 headers={"Content-Type": "text/plain", "Origin": ORIGIN}) as r:
                assert (r.status, await r.json()) == (200, {"success": True})
                assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert await gateway_stats(http, gateway, delivered=2, skipped=1) == counts(
            received=3, delivered=2, skipped=1)
        events = await mock_events(http, mock_url)
    assert events == [
        {"eventSource": "Segment", "eventType": "Order Completed",
         "eventTime": "2030-01-01T00:00:01.000Z",
         "actors": {"Customer": {"anonymousId": "a_web"}},
         "labels": {"currency": "EUR"}, "numbers": {"revenue": 42.5}},
        {"eventSource": "Segment", "eventType": "identify",
         "eventTime": "2030-01-01T00:00:01.000Z",
         "actors": {"Customer": {"userId": "u_web", "anonymousId": "a_web"}},
         "labels": {"plan": "pro"}, "numbers": {}},
    ]


async def test_an_unknown_write_key_is_401_on_every_route_in_segments_shape(
    mock_url: str, token: str, http: ClientSession
) -> None:
    unknown = {"code": "unauthorized",
               "message": "unknown write key: this gateway accepts only its configured keys"}
    async with run_gateway(mock_url, token, write_keys=frozenset({WRITE_KEY})) as gateway:
        for path in ("/analytics.js/v1/WK-other/analytics.min.js",
                     "/v1/projects/WK-other/settings"):
            status, headers, body = await _get(http, gateway + path, Origin=ORIGIN)
            assert (status, json.loads(body)) == (401, unknown), path
            assert headers["Access-Control-Allow-Origin"] == ORIGIN  # the page can read it
        for letter in "tipsgab":
            body = {"type": "track", "event": "x", "anonymousId": "a", "writeKey": "WK-other"}
            async with http.post(f"{gateway}/v1/{letter}", data=json.dumps(body),
                                 headers={"Content-Type": "text/plain"}) as response:
                assert (response.status, await response.json()) == (401, unknown), letter
        assert await gateway_stats(http, gateway) == counts()


async def test_a_missing_bundle_is_a_503_naming_the_setup_command(
    mock_url: str, token: str, http: ClientSession, tmp_path: Path
) -> None:
    bundle = tmp_path / "dist" / "umd" / "standalone.js"
    async with run_gateway(mock_url, token, analytics_js=bundle) as gateway:
        for path in (BUNDLE, CHUNK):
            status, _, body = await _get(http, gateway + path)
            assert (status, json.loads(body)) == (503, {
                "code": "analytics_js_not_installed",
                "message": f"analytics.js is not installed at {bundle}: in a source checkout "
                "run `make install` (npm ci in web/), or name a bundle with --analytics-js "
                "FILE"})
        status, _, body = await _get(http, gateway + "/analytics-next/bundles/../../x.js")
        assert status == 404
        status, _, body = await _get(http, gateway + SETTINGS)  # settings need no bundle
        assert status == 200


async def test_a_chunk_analytics_js_does_not_have_is_a_404(
    mock_url: str, token: str, http: ClientSession
) -> None:
    async with run_gateway(mock_url, token) as gateway:
        for name in ("nope.bundle.0123abcd.js", "standalone.js", "index.js.map"):
            status, _, body = await _get(http, f"{gateway}/analytics-next/bundles/{name}")
            assert (status, json.loads(body)["code"]) == (404, "not_found"), name


async def test_cors_preflight_is_answered_for_a_route_and_404_for_no_route(
    mock_url: str, token: str, http: ClientSession
) -> None:
    asked = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization,content-type"}
    async with run_gateway(mock_url, token) as gateway:
        for path in ("/v1/t", "/v1/b", "/v1/track"):
            async with http.options(gateway + path, headers=asked) as response:
                assert response.status == 204, path
                assert {k: response.headers[k] for k in (
                    "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials",
                    "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                    "Access-Control-Max-Age")} == {
                    "Access-Control-Allow-Origin": ORIGIN,
                    "Access-Control-Allow-Credentials": "true",
                    "Access-Control-Allow-Methods": "POST",
                    "Access-Control-Allow-Headers": "authorization,content-type",
                    "Access-Control-Max-Age": "86400"}
        async with http.options(gateway + "/v1/x", headers=asked) as response:
            assert (response.status, await response.json()) == (404, {
                "code": "not_found", "message": "no route for OPTIONS /v1/x"})
        # A method the route does not take: 405. The administration refuses another site's page
        # before routing (403, no CORS headers: the page cannot read it).
        async with http.options(gateway + "/v1/projects/k/settings", headers=asked) as response:
            assert response.status == 405
        async with http.options(gateway + "/_gateway/stats", headers=asked) as response:
            assert response.status == 403
            assert "Access-Control-Allow-Origin" not in response.headers


async def test_analytics_js_option_names_another_bundle_its_chunks_beside_it(
    mock_url: str, token: str, http: ClientSession, tmp_path: Path
) -> None:
    from connector.cli import build_parser
    from connector.gateway.settings import settings_from_args

    bundle = tmp_path / "my-analytics.js"
    bundle.write_bytes(b"window.mine = 1;\n")
    chunk = tmp_path / CHUNK.rsplit("/", 1)[1]
    chunk.write_bytes(b"window.chunk = 1;\n")
    args = build_parser().parse_args(["gateway", "--pointillist-url", mock_url,
                                      "--pointillist-token", token, "--analytics-js", str(bundle)])
    settings = settings_from_args(args)
    assert settings.analytics_js == bundle
    async with run_gateway(mock_url, token, analytics_js=settings.analytics_js) as gateway:
        assert (await _get(http, gateway + BUNDLE))[2] == b"window.mine = 1;\n"
        assert (await _get(http, gateway + CHUNK))[2] == b"window.chunk = 1;\n"
