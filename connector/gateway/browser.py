"""Segment's web endpoints, so that a page with the standard analytics.js snippet works offline
with only its CDN address changed (`analytics._cdn`, or `cdnURL` with the npm package).

What analytics.js (@segment/analytics-next) asks of its CDN and API, read from its source:

- GET /analytics.js/v1/{writeKey}/analytics.min.js: the bundle the snippet loads. cdn.segment.com
  serves the npm package's dist/umd/standalone.js (dist/umd/index.js is the library build, which
  does not start from the snippet's queue).
- GET /analytics-next/bundles/{chunk}: the chunks it loads lazily (webpack's public path is
  `<cdn>/analytics-next/bundles/`), e.g. schemaFilter when the settings carry a tracking plan.
- GET /v1/projects/{writeKey}/settings: the project's settings; the `Segment.io` integration's
  apiHost/protocol say where the events go: back to this gateway.
- POST /v1/{t,i,p,s,g,a}: one message per request, `Content-Type: text/plain`, the write key in
  the body and in Basic auth; POST /v1/b with batching on. handlers.ingest serves them as it
  serves /v1/track ...: same enrichment, dedup, outbox and mapping.

Every one of these paths answers cross-origin (the page is never on the gateway's origin).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler

from httpkit.guard import checked_authority

from ..errors import BundleNotInstalled, CdnError
from .keys import SETTINGS
from .rendering import SEGMENT_PREFIXES
from .tracking import authorize

# analytics.js's one-letter routes (the first letter of the call type; b: a batch).
BROWSER_ROUTES: Final[Mapping[str, str]] = {
    "t": "track", "i": "identify", "p": "page", "s": "screen", "g": "group", "a": "alias",
    "b": "batch",
}
SETUP_COMMAND: Final = "make install"
JAVASCRIPT: Final = "application/javascript"
_CHUNK: Final = re.compile(r"[A-Za-z0-9_-]+\.bundle\.[0-9a-f]+\.js")
# Echoed only when plainly an origin or a header list: anything else gets "*" / a fixed list.
_ORIGIN: Final = re.compile(r"(https?://[A-Za-z0-9.\-\[\]:]{1,253}|null)")
_TOKEN: Final = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_HEADER_LIST: Final = re.compile(rf"{_TOKEN}(\s*,\s*{_TOKEN})*")
DEFAULT_ALLOWED_HEADERS: Final = "Content-Type, Authorization, X-Retry-Count"
PREFLIGHT_MAX_AGE: Final = "86400"


def project_settings(write_key: str, api_host: str, protocol: str) -> dict[str, Any]:
    """The settings a Segment project with the Pointillist destination serves, minus what would
    reach the network: metrics are off (sampleRate 0) and no device-mode destination exists
    (Pointillist is cloud mode: "unbundled", so analytics.js loads nothing for it)."""
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key, "apiHost": api_host, "protocol": protocol,
                "unbundledIntegrations": ["Pointillist"], "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
                "versionSettings": {"version": "4.4.7", "componentTypes": ["browser"]},
            },
            "Pointillist": {"type": "server", "bundlingStatus": "unbundled",
                            "versionSettings": {"componentTypes": ["server"]}},
        },
        "plan": {"track": {"__default": {"enabled": True, "integrations": {}}},
                 "identify": {"__default": {"enabled": True}},
                 "group": {"__default": {"enabled": True}}},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


def _bundle(request: web.Request) -> Path:
    bundle = request.app[SETTINGS].analytics_js
    if not bundle.is_file():
        raise BundleNotInstalled(
            f"analytics.js is not installed at {bundle}: in a source checkout run "
            f"`{SETUP_COMMAND}` (npm ci in web/), or name a bundle with --analytics-js FILE",
            {"missing": str(bundle)})
    return bundle


def _javascript(path: Path) -> web.FileResponse:
    response = web.FileResponse(path, headers={"Content-Type": JAVASCRIPT,
                                               "Cache-Control": "no-cache"})
    return response


async def get_bundle(request: web.Request) -> web.StreamResponse:
    authorize([request.match_info["writeKey"]], request.app[SETTINGS].write_keys)
    return _javascript(_bundle(request))


async def get_chunk(request: web.Request) -> web.StreamResponse:
    folder = _bundle(request).parent
    name = request.match_info["chunk"]
    if not _CHUNK.fullmatch(name) or not (folder / name).is_file():
        raise CdnError(f"analytics.js has no chunk named {name[:100]!r}", {"chunk": name[:100]})
    return _javascript(folder / name)


async def get_settings(request: web.Request) -> web.Response:
    write_key = request.match_info["writeKey"]
    authorize([write_key], request.app[SETTINGS].write_keys)
    # Back to this gateway, as the page reached it: the authority the guard checked (aiohttp's
    # request.host is the request target's, unchecked, for an absolute-form target).
    settings = project_settings(write_key, f"{checked_authority(request)}/v1", request.scheme)
    return web.json_response(settings)


CDN_ROUTES: Final = [
    web.get("/analytics.js/v1/{writeKey}/analytics.min.js", get_bundle),
    web.get("/analytics-next/bundles/{chunk}", get_chunk),
    web.get("/v1/projects/{writeKey}/settings", get_settings),
]


def _allow_origin(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin", "")
    if _ORIGIN.fullmatch(origin):
        # Echoed (not "*") so that a page sending credentials is answered too.
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    else:
        response.headers["Access-Control-Allow-Origin"] = "*"


def _preflight(request: web.Request) -> web.Response | None:
    """204 for a route that takes the method asked for; None lets the router answer (404 for
    a path with no route, 405 for a method the path does not take)."""
    wanted = request.headers.get("Access-Control-Request-Method", "").strip().upper()
    refusal = request.match_info.http_exception
    if not isinstance(refusal, web.HTTPMethodNotAllowed) or wanted not in refusal.allowed_methods:
        return None
    asked = request.headers.get("Access-Control-Request-Headers", "").strip()
    headers = asked if _HEADER_LIST.fullmatch(asked) else DEFAULT_ALLOWED_HEADERS
    return web.Response(status=204, headers={
        "Access-Control-Allow-Methods": ", ".join(sorted(refusal.allowed_methods)),
        "Access-Control-Allow-Headers": headers,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
    })


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS on Segment's public paths (ingest, settings, CDN), errors included, so that a page
    can read a 400 or 401; the /_gateway/* administration stays same-origin."""
    if not request.path.startswith(SEGMENT_PREFIXES):
        return await handler(request)
    response: web.StreamResponse | None = None
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response = _preflight(request)
    if response is None:
        response = await handler(request)
    _allow_origin(request, response)
    return response
