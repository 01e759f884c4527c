"""A small shop page instrumented with Segment's standard analytics.js snippet, whose CDN is the
gateway (`analytics._cdn`): `make demo` serves it beside the dashboard, and the browser tests
click through it. Served from its own port, so the page is cross-origin to the gateway as a real
site is to Segment.

The page (index.html) calls page() from the snippet, then on clicks: track "Product Viewed",
track "Product Added", identify at sign-in (userId `u_<name>` from the email, traits email and
name), track "Order Completed" with the cart's products, revenue and currency at checkout, and
reset() at sign-out. `#status` shows what the page last sent, for tests to wait on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import Final

from aiohttp import web

from httpkit.connections import refusal
from httpkit.serving import Listener
from httpkit.serving import serving as serve_app

PAGE: Final = web.AppKey("shop_page", str)


def render(gateway: str, write_key: str) -> str:
    """index.html with the gateway as the snippet's CDN and the write key filled in (as JSON
    strings, so that no value can break out of the script)."""
    page = resources.files(__package__).joinpath("index.html").read_text(encoding="utf-8")
    return (page.replace('"__GATEWAY__"', json.dumps(gateway))
            .replace('"__WRITE_KEY__"', json.dumps(write_key)))


async def get_page(request: web.Request) -> web.Response:
    return web.Response(text=request.app[PAGE], content_type="text/html", charset="utf-8")


def create_shop_app(gateway: str, write_key: str) -> web.Application:
    app = web.Application()
    app[PAGE] = render(gateway, write_key)
    app.router.add_get("/", get_page)
    return app


@asynccontextmanager
async def serving(gateway: str, write_key: str, host: str = "127.0.0.1",
                  port: int = 0) -> AsyncIterator[str]:
    """Serve the shop (port 0 picks a free one); yield its URL."""
    listener = Listener(host=host, port=port, idle_timeout=60.0, body_timeout=30.0,
                        max_connections=64,
                        refusal=refusal({"error": {"code": "too_many_connections",
                                                  "message": "the shop is busy",
                                                  "details": {}}}),
                        log_name="connector.shop")
    async with serve_app(create_shop_app(gateway, write_key), listener) as url:
        yield url + "/"
