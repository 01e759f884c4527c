"""`segment-connector`: one module per subcommand, each with add_<name> + run_<name>."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Final

from httpkit.arguments import Parser, stdout_closed, version
from httpkit.environment import flags_from_environment, subcommand
from httpkit.serving import terminate_as_interrupt

from .audiences import add_audiences
from .common import Handler
from .gateway import add_gateway
from .generate import add_generate
from .plan import add_plan
from .replay import add_replay
from .send import add_send
from .validate import add_validate

__all__ = ["build_parser", "main"]

GATEWAY_ENV_PREFIX: Final = "SEGMENT_GATEWAY_"  # the gateway's flags as variables


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:1] == ["gateway"]:
        given += flags_from_environment(subcommand(parser, "gateway"), GATEWAY_ENV_PREFIX,
                                        given[1:])
    args = parser.parse_args(given)
    terminate_as_interrupt()
    handler: Handler = args.handler
    try:
        status = handler(args)
        sys.stdout.flush()
    except BrokenPipeError:  # `segment-connector validate ... | head -3`
        return stdout_closed()
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="segment-connector",
                    description="Segment side of the Pointillist connector.")
    parser.add_argument("--version", action="version",
                        version=f"segment-connector {version()}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_generate(subcommands)
    add_send(subcommands)
    add_gateway(subcommands)
    add_audiences(subcommands)
    add_validate(subcommands)
    add_replay(subcommands)
    add_plan(subcommands)
    return parser
