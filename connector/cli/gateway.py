"""`segment-connector gateway`: serve Segment's HTTP Tracking API and deliver to Pointillist."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from connector.errors import ConfigError

if TYPE_CHECKING:
    from .common import Subparsers


def add_gateway(subcommands: Subparsers) -> None:
    from connector.gateway import settings as gateway_settings

    parser = subcommands.add_parser(
        "gateway",
        help="serve Segment's HTTP Tracking API and deliver to Pointillist",
        description="A Segment-compatible endpoint (POST /v1/batch, /v1/track ...): point a "
        "Segment SDK's host at it. Accepted messages are kept in a durable outbox and "
        "delivered, mapped, to the Pointillist URL; see GET /_gateway/stats.",
    )
    gateway_settings.add_arguments(parser)
    parser.set_defaults(handler=run_gateway)


def run_gateway(args: argparse.Namespace) -> int:
    from connector.errors import OutboxError
    from connector.gateway.serving import serve_until_stopped
    from connector.gateway.settings import settings_from_args
    from httpkit.arguments import bind_failure
    from httpkit.serving import CannotListen

    prog = "segment-connector gateway"
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def announce(url: str, holds: dict[str, int]) -> None:
        where = "in memory, kept until exit" if settings.in_memory else settings.outbox
        print(f"{prog} listening on {url} (outbox: {where}, holding {holds['pending']} pending, "
              f"{holds['deadLettered']} dead letters, {holds['dedupIds']} messageIds in the "
              f"{settings.dedup_window:g} s dedup window; delivering to {settings.delivery.url})",
              flush=True)

    try:
        asyncio.run(serve_until_stopped(settings, announce))
    except KeyboardInterrupt:
        pass
    except CannotListen as exc:
        print(bind_failure(prog, exc.host, exc.port, exc.cause), file=sys.stderr)
        return 1
    except OutboxError as exc:
        print(f"{prog}: {exc.message}", file=sys.stderr)
        return 1
    return 0
