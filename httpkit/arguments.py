"""Command-line argument types and start-up failures shared by both servers' CLIs.

Every mistake a user can make on the command line ends as one line on stderr and a non-zero
exit: argparse's own usage error for a bad value, `bind_failure` for a port that cannot be had.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import socket
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, Final, NoReturn

MAX_PORT: Final = 65535
MEMORY: Final = ":memory:"


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (`prog: error: ...; see prog --help`) instead of the
    whole usage block, and every option's default in its help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds the default where there is one to show (not for flags, lists or None) and the help
    does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, [], False, True) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def version(distribution: str = "pointillist-mock") -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def port(text: str) -> int:
    """0 to 65535 (0 picks a free port); the kernel would silently wrap anything else."""
    value = whole(0, MAX_PORT)(text)
    return value


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    return parse


def seconds(low: float, inclusive: bool = False) -> Callable[[str], float]:
    """A finite number of seconds, more than `low` (or equal to it when `inclusive`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < low or (value == low and not inclusive):
            relation = "at least" if inclusive else "more than"
            raise argparse.ArgumentTypeError(f"must be a finite number {relation} {low:g}, "
                                             f"got {text}")
        return value

    return parse


def store_path(text: str) -> str:
    """A file the server may create or reopen, or ':memory:'. Checked before anything is
    created: a directory, a missing parent or a file without read and write permission is a
    usage error, not a traceback or a silently created folder."""
    if text == MEMORY:
        return text
    if not text:
        raise argparse.ArgumentTypeError("empty path (use ':memory:' for no file)")
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; name a file in it")
    parent = path.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"the folder {parent} does not exist; create it first")
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise argparse.ArgumentTypeError(f"{text} is not readable and writable")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot create a file in {parent}")
    return text


def readable_file(text: str) -> str:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text} is not readable")
    return text


def input_file(text: str) -> str:
    """A readable file, or - for standard input."""
    return text if text == "-" else readable_file(text)


def output_file(text: str) -> Path:
    """A file to write (created or replaced), or - for standard output."""
    path = Path(text)
    if text != "-":
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a directory; name a file in it")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(
                f"the folder {path.parent} does not exist; create it first")
    return path


def bind_failure(prog: str, host: str, port: int, exc: OSError) -> str:
    """One line for a listening socket that could not be had."""
    if exc.errno == errno.EADDRINUSE:
        return (f"{prog}: port {port} on {host} is already in use; choose another with "
                f"--port (0 picks a free one)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{prog}: no permission to listen on port {port} of {host}"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"{prog}: cannot listen on host {host!r}: not an address of this machine"
    return f"{prog}: cannot listen on {host}:{port}: {exc.strerror or exc}"


def add_guard_options(parser: argparse.ArgumentParser, admin: str, note: str = "") -> None:
    """--allow-host and --allow-origin (guard.py), worded alike on both servers; `admin` names
    the server's admin routes, `note` adds what stays open."""
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer to this Host name (repeatable); by default only "
                        "loopback names and the bound address, others get 421. '*' answers to "
                        "any name but widens only that check: a page under a name it lets in "
                        f"may not change state through {admin} unless --allow-origin names it")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help=f"let pages of this origin, e.g. http://localhost:3000, call and "
                        f"read {admin} (repeatable; '*' for any); other sites' pages get 403"
                        + note)


SIGPIPE_STATUS: Final = 128 + 13  # what a shell shows for a Unix tool ended by SIGPIPE


def stdout_closed() -> int:
    """The reader of stdout went away (`... | head -3`): end quietly, as Unix tools do, with no
    BrokenPipeError traceback, at once or when Python flushes stdout at exit (stdout then
    points at /dev/null). Returns the exit status to end with."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return SIGPIPE_STATUS
