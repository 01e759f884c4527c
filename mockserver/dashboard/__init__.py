"""The live dashboard: a static page at / and its assets under /dashboard/.

Plain HTML, CSS and JavaScript modules shipped in this package (no build step, nothing fetched
from the network at run time). The page talks to the inspection API like any client: it sends
the token the user typed (or `/?token=T`) and follows GET /_mock/stream.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from aiohttp import web

from mockserver.errors import NotFound

HERE: Final = Path(__file__).resolve().parent
CONTENT_TYPES: Final = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# Only files of those kinds, by plain names: never this module, never a path outside the folder.
ASSET_NAME: Final = re.compile(r"^[a-z][a-z0-9_-]*\.(js|css|svg)$")
NO_CACHE: Final = {"Cache-Control": "no-cache"}  # a restarted mock may ship a newer page


async def get_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(HERE / "index.html", headers={
        **NO_CACHE, "Content-Type": "text/html; charset=utf-8"})


async def get_asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = HERE / name
    if not ASSET_NAME.match(name) or not path.is_file():
        raise NotFound(f"no dashboard asset {name!r}")
    content_type = CONTENT_TYPES[path.suffix]
    return web.FileResponse(path, headers={**NO_CACHE, "Content-Type": f"{content_type}; "
                                           "charset=utf-8"})
