"""What the subcommands share: the argparse types of their flags and the subparsers type."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from connector.traffic.spec import parse_start
from httpkit.arguments import whole

Handler = Callable[[argparse.Namespace], int]
if TYPE_CHECKING:
    from httpkit.arguments import Parser

    Subparsers = argparse._SubParsersAction[Parser]


def count(minimum: int) -> Callable[[str], int]:
    return whole(minimum)


def instant(text: str) -> datetime:
    try:
        return parse_start(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO-8601 instant (e.g. 2026-01-01T00:00:00Z): {text!r}") from None

