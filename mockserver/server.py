"""Running the app on a real socket: used by the CLI, the demo and the pytest plugin."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from aiohttp import web

from .app import create_app
from .settings import Settings


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """Serve on settings.host:settings.port (0 picks a free port); yield the base URL."""
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


class BackgroundServer:
    """A mock on its own event loop in a thread, for synchronous callers such as pytest."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = replace(settings or Settings(), port=(settings.port if settings else 0))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="pointillist-mock", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.url = ""

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            async with serving(self._settings) as url:
                self.url = url
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # surfaced to the starting thread
            self._error = exc
            self._ready.set()

    def start(self) -> BackgroundServer:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
