"""Every flag of a server command also read from an environment variable of the same name:
the command's prefix, then the flag upper-cased with '-' as '_' (`pointillist-mock serve
--max-body-bytes` ↔ POINTILLIST_MOCK_MAX_BODY_BYTES), as a container image is configured.

A flag given on the command line wins over its variable. A repeatable flag takes a
comma-separated list; an on/off flag takes 1, true, yes or on (0, false, no, off or empty leave
it off). A variable's value goes through the flag's own checks, so a bad value is the same
one-line usage error, naming the flag. Variables with the prefix that name no flag are ignored
(the prefix also holds other settings, e.g. POINTILLIST_MOCK_TOKENS).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import Final

ON: Final = frozenset({"1", "true", "yes", "on"})
OFF: Final = frozenset({"", "0", "false", "no", "off"})


def variable(prefix: str, flag: str) -> str:
    """The environment variable of a long flag: variable('SEGMENT_GATEWAY_', '--port')."""
    return prefix + flag.removeprefix("--").upper().replace("-", "_")


def flags_from_environment(parser: argparse.ArgumentParser, prefix: str, given: Sequence[str],
                           environ: Mapping[str, str] | None = None) -> list[str]:
    """The arguments to add to `given` (one command's arguments) for the variables set in
    `environ` (os.environ by default) whose flag `given` does not hold. O(flags * arguments)."""
    env = os.environ if environ is None else environ
    added: list[str] = []
    for action in parser._actions:  # argparse keeps no public list of a parser's options
        flags = [s for s in action.option_strings if s.startswith("--")]
        if not flags or action.dest == "help" or isinstance(action, argparse._VersionAction):
            continue
        name = variable(prefix, flags[0])
        if name not in env or _given(action, given):
            continue
        value = env[name]
        if action.nargs == 0:  # store_true: an on/off switch
            word = value.strip().lower()
            if word not in ON | OFF:
                parser.error(f"{name}={value!r}: expected 1, true, yes or on, or 0, false, "
                             f"no or off")
            if word in ON:
                added.append(flags[0])
        elif isinstance(action, argparse._AppendAction):
            added += [f"{flags[0]}={item.strip()}" for item in value.split(",") if item.strip()]
        else:
            added.append(f"{flags[0]}={value}")
    return added


def _given(action: argparse.Action, given: Sequence[str]) -> bool:
    return any(argument == flag or argument.startswith(flag + "=")
               for argument in given for flag in action.option_strings)


def subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    """The parser of one subcommand."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            found: argparse.ArgumentParser = action.choices[name]
            return found
    raise KeyError(name)
