"""A bundled web app that uses the npm package: bundled_app/app.js imports `AnalyticsBrowser`
from @segment/analytics-next and calls `AnalyticsBrowser.load({writeKey, cdnURL})` with the
gateway as cdnURL; esbuild (from the committed npm lock, installed by `make install`) bundles it
with the package, offline, into one script that the app serves from its own origin.

Why a real bundler, not the package's prebuilt dist/umd/index.js: that build fixes where it
loads its lazy chunks when the script runs, from `window.analytics._cdn` or else
https://cdn.segment.com, before `load()` sees cdnURL; a site would then fetch code from the
network. A bundler inlines those dynamic imports into the app's own bundle (one file here,
without code splitting), which is what a site built with the npm package ships.

InitOptions (e.g. a batching delivery strategy) come from the page's query string,
`?options=<JSON>`, so that one app serves every test. `window.analytics` is the
AnalyticsBrowser: awaiting it gives [Analytics, Context] once the settings are loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from aiohttp import web

from httpkit.connections import refusal
from httpkit.serving import Listener
from httpkit.serving import serving as serve_app

ROOT: Final = Path(__file__).resolve().parents[2]
NODE_MODULES: Final = ROOT / "web" / "node_modules"
ESBUILD: Final = NODE_MODULES / ".bin" / "esbuild"
APP: Final = Path(__file__).resolve().parent / "bundled_app" / "app.js"
SCRIPT: Final = "/assets/app.js"
BUNDLE: Final = web.AppKey("bundle", Path)
GATEWAY: Final = web.AppKey("gateway", str)
WRITE_KEY: Final = web.AppKey("write_key", str)
PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>A bundled app</title>
<script type="application/json" id="app-config">__CONFIG__</script>
<script src="__SCRIPT__"></script>
</head>
<body><h1>A bundled app</h1><a id="away" href="/away">Leave</a></body>
</html>
"""
AWAY: Final = '<!doctype html><title>Elsewhere</title><link rel="icon" href="data:,">'


def bundle(out: Path) -> Path:
    """esbuild app.js with the npm package into `out` (an IIFE for browsers); the file."""
    if not ESBUILD.is_file():
        raise FileNotFoundError(f"{ESBUILD} is missing: run `make install` (npm ci in web/)")
    script = out / "app.js"
    subprocess.run(
        [str(ESBUILD), str(APP), "--bundle", "--platform=browser", "--format=iife",
         f"--outfile={script}", "--log-level=warning"],
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)}, check=True, timeout=60)
    return script


async def get_page(request: web.Request) -> web.Response:
    options = json.loads(request.query.get("options", "{}"))
    config = {"gateway": request.app[GATEWAY], "writeKey": request.app[WRITE_KEY],
              "options": options}
    # "<" escaped so that no value can close the script element.
    text = (PAGE.replace("__SCRIPT__", SCRIPT)
            .replace("__CONFIG__", json.dumps(config).replace("<", "\\u003c")))
    return web.Response(text=text, content_type="text/html")


async def get_away(request: web.Request) -> web.Response:
    return web.Response(text=AWAY, content_type="text/html")


async def get_script(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[BUNDLE],
                            headers={"Content-Type": "application/javascript"})


@asynccontextmanager
async def serving(gateway: str, write_key: str, script: Path) -> AsyncIterator[str]:
    """Serve the app (its bundle: `script`) on a free port of 127.0.0.1; yield its URL."""
    app = web.Application()
    app[BUNDLE] = script
    app[GATEWAY] = gateway
    app[WRITE_KEY] = write_key
    app.router.add_get("/", get_page)
    app.router.add_get("/away", get_away)
    app.router.add_get(SCRIPT, get_script)
    listener = Listener(host="127.0.0.1", port=0, idle_timeout=60.0, body_timeout=30.0,
                        max_connections=64, refusal=refusal({"error": "busy"}),
                        log_name="tests.bundled_page")
    async with serve_app(app, listener) as url:
        yield url + "/"
