"""The ceiling: a bare aiohttp app that reads and parses the same JSON body as the mock's
POST /event and answers 202 without validating or storing anything.

It runs exactly as the mock does (one process, the mock's event loop factory, i.e. uvloop,
aiohttp's AppRunner/TCPSite, no access log) and parses with the JSON library the mock uses
(orjson), so the ratio mock/ceiling is the cost of what the mock adds:
validation, the durable journal, the store and stitching.

    python -m benchmarks.ceiling --port 0     # prints "ceiling listening on http://..."
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import orjson
from aiohttp import web

from mockserver.__main__ import event_loop


def _loads(body: bytes) -> Any:
    return orjson.loads(body)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def post_event(request: web.Request) -> web.Response:
    body = await request.read()
    payload = _loads(body)
    answer = {"id": "evt_0000000001", "duplicate": False, "type": type(payload).__name__}
    return web.json_response(answer, status=202, dumps=_dumps)


async def post_events(request: web.Request) -> web.Response:
    payload = _loads(await request.read())
    count = len(payload)
    return web.json_response({"ids": [], "count": count, "duplicate": False}, status=202,
                             dumps=_dumps)


def create_ceiling_app() -> web.Application:
    app = web.Application(client_max_size=1024 * 1024, handler_args={"auto_decompress": False})
    app.router.add_post("/event", post_event)
    app.router.add_post("/events", post_events)
    return app


async def _serve(host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(create_ceiling_app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"ceiling listening on http://{bound_host}:{bound_port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop) as runner:  # the mock's own event loop
        runner.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
