"""Fixtures of the e2e tests: the scripted server `flaky` (scripted_server.py) and a caller's
`session`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, web

from tests.e2e.scripted_server import Flaky


@pytest.fixture
async def session() -> AsyncIterator[ClientSession]:
    """The caller's session: the client must use it and leave it open."""
    async with ClientSession() as client_session:
        yield client_session


@pytest.fixture
async def flaky(mock_url: str) -> AsyncIterator[Flaky]:
    async with ClientSession() as forward:
        server = Flaky(mock_url, forward)
        app = web.Application()
        app.router.add_post("/event", server.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        server.url = f"http://{host}:{port}"
        try:
            yield server
        finally:
            server.release.set()
            server.gate.set()
            await runner.cleanup()
