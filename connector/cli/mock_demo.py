"""`pointillist-mock demo`: the one command that composes both packages, registered from the
connector side (entry point group `pointillist_mock.commands`), so mockserver never imports
the connector. Loaded for every `pointillist-mock` start: nothing heavy is imported here.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final

PROG: Final = "pointillist-mock"


class DemoCommand:
    name: Final = "demo"

    def add_to(self, commands: Any) -> None:
        """Add the subcommand to `pointillist-mock`'s subparsers."""
        demo = commands.add_parser(
            self.name, help="start a mock, replay the medium Segment scenario through the "
            "connector, show three stitched users (needs the demo extra)")
        demo.add_argument("--no-wait", action="store_true",
                          help="exit after the summary instead of serving until Ctrl-C")

    def run(self, parsed: argparse.Namespace) -> int:
        from connector.extras import missing_line

        hint = missing_line(f"{PROG} demo", "segment-analytics-python")
        if hint is not None:
            print(hint, file=sys.stderr)
            return 2
        from connector.demo import run_demo

        return run_demo(wait=not parsed.no_wait)


DEMO: Final = DemoCommand()
